/**
 * One live channel for every task of this tab: a single Server-Sent Events stream
 * (`/api/v1/events`), so any number of running jobs costs one connection (a browser allows six
 * per host over HTTP/1.1; one stream per job froze the tab at the seventh).
 *
 * The browser reconnects by itself and resumes with Last-Event-ID. While the stream is down, the
 * active tasks are polled; when it closes for good, it is opened again after a pause from the
 * last event seen (`?since=`).
 */
import type { Task } from '@/api/types'

export interface LiveChannelDeps {
  url: string
  /** The tasks worth refreshing while the stream is down (pending, running, just finished). */
  fetchTasks: (signal?: AbortSignal) => Promise<Task[]>
  /** Injected for tests; defaults to the browser's EventSource when present. */
  EventSource?: typeof EventSource | null
  pollIntervalMs?: number
  reopenMs?: number
}

export function openLiveChannel(onTask: (task: Task) => void, deps: LiveChannelDeps): () => void {
  const ES = deps.EventSource === undefined ? globalThis.EventSource : deps.EventSource
  const pollInterval = deps.pollIntervalMs ?? 1500
  const reopen = deps.reopenMs ?? 5000
  let closed = false
  let source: EventSource | null = null
  let lastId: string | null = null
  let pollTimer: ReturnType<typeof setTimeout> | null = null
  let reopenTimer: ReturnType<typeof setTimeout> | null = null
  let controller: AbortController | null = null

  async function poll(): Promise<void> {
    pollTimer = null
    if (closed) return
    controller = new AbortController()
    try {
      for (const task of await deps.fetchTasks(controller.signal)) onTask(task)
    } catch {
      // the next round, or the stream, brings the state
    }
    controller = null
    if (!closed && !pollTimer) pollTimer = setTimeout(() => void poll(), pollInterval)
  }

  function startPolling(): void {
    if (closed || pollTimer || controller) return
    void poll()
  }

  function stopPolling(): void {
    if (pollTimer) clearTimeout(pollTimer)
    pollTimer = null
    controller?.abort()
    controller = null
  }

  function open(): void {
    reopenTimer = null
    if (closed || !ES) return
    const url = lastId ? `${deps.url}?since=${encodeURIComponent(lastId)}` : deps.url
    try {
      source = new ES(url, { withCredentials: true })
    } catch {
      source = null
      startPolling()
      return
    }
    const opened = source
    opened.addEventListener('open', () => stopPolling())
    opened.addEventListener('task', (event) => {
      const message = event as MessageEvent<string>
      if (message.lastEventId) lastId = message.lastEventId
      try {
        onTask(JSON.parse(message.data) as Task)
      } catch {
        // a garbled event: the next one, or the polling fallback, brings the state
      }
    })
    opened.onerror = () => {
      if (closed) return
      startPolling()
      // CONNECTING: the browser is already reconnecting (with Last-Event-ID). CLOSED: it gave up
      // (an error status, a proxy that cut the stream): open a new one after a pause.
      if (opened.readyState === 2) {
        opened.close()
        if (source === opened) source = null
        if (!reopenTimer) reopenTimer = setTimeout(open, reopen)
      }
    }
  }

  if (ES) open()
  else startPolling()

  return () => {
    closed = true
    source?.close()
    source = null
    stopPolling()
    if (reopenTimer) clearTimeout(reopenTimer)
    reopenTimer = null
  }
}
