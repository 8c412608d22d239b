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
        if (error === null) void respond(msg, answer);
      },
    }),
  );
}

async function respond(msg: Msg, answer: (body: unknown) => Promise<unknown>): Promise<void> {
  let reply: Answer;
  try {
    reply = { ok: true, value: await answer(msg.data.length === 0 ? {} : msg.json<unknown>()) };
  } catch (failure) {
    reply = { ok: false, error: failure instanceof Error ? failure.message : String(failure) };
  }
  msg.respond(JSON.stringify(reply));
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
