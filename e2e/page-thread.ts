/**
 * The lab's own work on the page's thread, task by task, read from a Chrome trace of the page.
 *
 * Wall-clock task lengths (the `longtask` API) measure the scheduler as much as the page: without a GPU, SwiftShader's
 * threads in Chromium's GPU process take the CPU from the page's thread, and a task of 20 ms of work lasts 150 ms. The
 * trace gives each task's thread CPU time (`tdur`). From it we take away what the test harness runs on the page's
 * thread: DevTools protocol messages (Playwright's evaluations, actionability checks and accessibility snapshots) and
 * its injected page scripts; lab scripts that those call (an `input` event Playwright dispatches) count for the lab.
 * Everything else in a task (rendering, garbage collection, microtasks) counts for the lab.
 */
import type { CDPSession, Page } from '@playwright/test';

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string; data?: { url?: string; functionName?: string }; chrome_mojo_event_info?: { mojo_interface_tag?: string } };
}

export interface PageTask {
  /** Thread CPU time of the task, the lab's share of it, and its wall-clock length, in ms. */
  cpuMs: number;
  labMs: number;
  wallMs: number;
  /** The lab's scripts of 1 ms or more that ran in it, with their CPU time. */
  scripts: string;
}

const TASK = 'ThreadControllerImpl::RunTask';

/** Starts tracing the page; the returned function stops and gives the page thread's tasks. */
export async function tracePageThread(page: Page): Promise<() => Promise<PageTask[]>> {
  const cdp: CDPSession = await page.context().newCDPSession(page);
  const events: TraceEvent[] = [];
  cdp.on('Tracing.dataCollected', ({ value }) => events.push(...(value as unknown as TraceEvent[])));
  await cdp.send('Tracing.start', { traceConfig: { includedCategories: ['toplevel', 'devtools.timeline'] }, transferMode: 'ReportEvents' });
  const labOrigin = new URL(page.url()).origin;
  return async () => {
    const complete = new Promise<void>((resolve) => cdp.once('Tracing.tracingComplete', () => resolve()));
    await cdp.send('Tracing.end');
    await complete;
    await cdp.detach();
    return pageTasks(events, labOrigin);
  };
}

function isLabScript(event: TraceEvent, labOrigin: string): boolean {
  return event.name === 'FunctionCall' && (event.args?.data?.url ?? '').startsWith(labOrigin);
}

function isHarness(event: TraceEvent, labOrigin: string): boolean {
  if (event.name === 'Receive mojo message') return event.args?.chrome_mojo_event_info?.mojo_interface_tag === 'blink.mojom.DevToolsSession';
  return event.name === 'FunctionCall' && !isLabScript(event, labOrigin);
}

function pageTasks(events: TraceEvent[], labOrigin: string): PageTask[] {
  // The page's thread is the renderer main thread that ran the lab's scripts.
  const labThread = events.find((e) => isLabScript(e, labOrigin));
  if (!labThread) throw new Error(`the trace holds no script of ${labOrigin}`);
  const onThread = events
    .filter((e) => e.ph === 'X' && e.pid === labThread.pid && e.tid === labThread.tid && e.dur !== undefined)
    .sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);
  const tasks: PageTask[] = [];
  let task: { cpuMs: number; labMs: number; wallMs: number; scriptList: string[] } | null = null;
  // Open events enclosing the current one, each with whose work it is: the lab's, the harness's, or not yet known.
  const open: { end: number; owner: 'lab' | 'harness' | 'task' }[] = [];
  const finish = () => {
    if (task) tasks.push({ cpuMs: task.cpuMs, labMs: task.labMs, wallMs: task.wallMs, scripts: task.scriptList.join(' + ') || 'none' });
  };
  for (const event of onThread) {
    while (open.length > 0 && open[open.length - 1].end <= event.ts) open.pop();
    if (open.length === 0) {
      if (event.name !== TASK) continue;
      finish();
      const cpuMs = (event.tdur ?? event.dur!) / 1000;
      task = { cpuMs, labMs: cpuMs, wallMs: event.dur! / 1000, scriptList: [] };
      open.push({ end: event.ts + event.dur!, owner: 'task' });
      continue;
    }
    const enclosing = open[open.length - 1].owner;
    let owner = enclosing;
    if (enclosing === 'task' && isHarness(event, labOrigin)) {
      owner = 'harness';
      task!.labMs -= (event.tdur ?? 0) / 1000;
    } else if (enclosing !== 'lab' && isLabScript(event, labOrigin)) {
      owner = 'lab';
      const ms = (event.tdur ?? event.dur!) / 1000;
      if (enclosing === 'harness') task!.labMs += ms;
      if (ms >= 1) task!.scriptList.push(`${event.args?.data?.functionName || 'script'} ${ms.toFixed(0)} ms`);
    }
    open.push({ end: event.ts + event.dur!, owner });
  }
  finish();
  return tasks;
}
