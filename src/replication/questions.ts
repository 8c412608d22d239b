/**
 * Questions between regions over core NATS request/reply: each region
 * answers on `tessera.<topic>.<region>.<question>` (a queue group, so one of
 * its nodes answers each), with `{ ok, value }` or `{ ok: false, error }` as
 * JSON. Used by the auth routing (`tessera.home.…`) and the repair
 * (`tessera.repair.…`).
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';

type Answer = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

/** Answers `question`s of a topic for a region; returns the subscriptions (to unsubscribe when stopping). */
export function answerQuestions(
  nc: NatsConnection,
  topic: string,
  region: string,
  answers: Readonly<Record<string, (body: any) => Promise<unknown>>>,
): Subscription[] {
  return Object.entries(answers).map(([question, answer]) =>
    nc.subscribe(`tessera.${topic}.${region}.${question}`, {
      queue: `tessera-${topic}-${region}`,
      callback: (error, msg) => {
        if (error === null) void respond(nc, msg, answer);
      },
    }),
  );
}

/**
 * Answers one question. Never rejects: it runs detached from the
 * subscription, so a rejection would end the process. An answer larger than
 * the server carries is refused in words the asker sees (instead of a
 * timeout); a connection closing meanwhile (shutdown) leaves the asker to time
 * out, as a node gone would.
 */
async function respond(nc: NatsConnection, msg: Msg, answer: (body: unknown) => Promise<unknown>): Promise<void> {
  let text: string;
  try {
    text = JSON.stringify({ ok: true, value: await answer(msg.data.length === 0 ? {} : msg.json<unknown>()) } satisfies Answer);
  } catch (failure) {
    text = refusal(failure instanceof Error ? failure.message : String(failure));
  }
  const [bytes, limit] = [Buffer.byteLength(text), maxPayload(nc)];
  if (bytes > limit) text = refusal(`the answer takes ${bytes} bytes, more than the ${limit} the NATS servers carry (max_payload)`);
  try {
    msg.respond(text);
  } catch {
    // Closed or draining: nobody to answer.
  }
}

function refusal(error: string): string {
  return JSON.stringify({ ok: false, error } satisfies Answer);
}

/** The most bytes one message may carry on this connection (the server's `max_payload`; NATS's default 1 MiB before it is known). */
export function maxPayload(nc: NatsConnection): number {
  return nc.info?.max_payload ?? 1024 * 1024;
}

/** Asks a region a question; rejects with what `fail` makes of an unanswered or refused question. */
export async function ask(
  nc: NatsConnection,
  topic: string,
  region: string,
  question: string,
  body: unknown,
  timeoutMs: number,
  fail: (message: string, cause?: unknown) => Error = (message, cause) => new Error(message, { cause }),
): Promise<unknown> {
  let reply;
  try {
    reply = await nc.request(`tessera.${topic}.${region}.${question}`, JSON.stringify(body), { timeout: timeoutMs });
  } catch (error) {
    throw fail(`region ${region} did not answer ${question} (${(error as Error).message})`, error);
  }
  const answer = reply.json<Answer>();
  if (!answer.ok) throw fail(`region ${region} could not answer ${question}: ${answer.error}`);
  return answer.value;
}
