/**
 * The event loop's largest delay, for the benchmark's report of where slow
 * requests waited: a baseline server answers it at `GET /readyz/loop-delay`
 * (milliseconds, then starts over), as Tessera's `/metrics` does with
 * prom-client's `nodejs_eventloop_lag_max_seconds`. Same resolution (10 ms):
 * one timer, nothing per request.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export function loopDelayProbe(): () => { maxMs: number } {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  return () => {
    const maxMs = histogram.max / 1e6;
    histogram.reset();
    return { maxMs };
  };
}
