/**
 * A promise an asynchronous DDI hands back, marked as observed. A stop inside the DDI rejects it with a
 * BugCheckError, and that stop is already the run's stop: the scheduler has recorded it and ends the run. A caller
 * that does not await the promise — a DPC's `void rx.RxDereference(…)`, since a DPC cannot wait — must not turn that
 * rejection into an unhandled rejection, which would end the Node process (or fail an ava test file) instead of
 * producing the stop's report. Every caller that does await the promise still gets the rejection, a stop or any
 * other error.
 */
export function observed<T>(p: Promise<T>): Promise<T> {
  p.catch(ignoreRejection);
  return p;
}

function ignoreRejection(): void {}
