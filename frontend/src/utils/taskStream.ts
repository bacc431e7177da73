/**
 * Follow one task live: Server-Sent Events first, polling `GET /tasks/{id}` when the stream
 * cannot be opened or breaks. Calls `onTask` with every new state and `onEnd` once.
 */
import type { Task } from '@/api/types'
import { isTerminal } from './taskStatus'

export interface TaskStreamDeps {
  eventsUrl: (id: string) => string
  fetchTask: (id: string, signal?: AbortSignal) => Promise<Task>
  /** Injected for tests; defaults to the browser's EventSource when present. */
  EventSource?: typeof EventSource | null
  pollIntervalMs?: number
}

export interface TaskStreamHandlers {
  onTask: (task: Task) => void
  onEnd?: () => void
  /** A polling error that will not heal (404 and the like). */
  onError?: (error: unknown) => void
}

export function openTaskStream(id: string, handlers: TaskStreamHandlers, deps: TaskStreamDeps): () => void {
  const ES = deps.EventSource === undefined ? globalThis.EventSource : deps.EventSource
  const interval = deps.pollIntervalMs ?? 1500
  let closed = false
  let source: EventSource | null = null
  let timer: ReturnType<typeof setTimeout> | null = null
  let controller: AbortController | null = null
  let failures = 0

  function finish(): void {
    if (closed) return
    close()
    handlers.onEnd?.()
  }

  function close(): void {
    closed = true
    source?.close()
    source = null
    if (timer) clearTimeout(timer)
    timer = null
    controller?.abort()
    controller = null
  }

  function deliver(task: Task): void {
    if (closed) return
    handlers.onTask(task)
  }

  async function poll(): Promise<void> {
    timer = null
    if (closed) return
    controller = new AbortController()
    try {
      const task = await deps.fetchTask(id, controller.signal)
      failures = 0
      deliver(task)
      if (isTerminal(task.status)) return finish()
    } catch (error) {
      if (closed) return
      const status = (error as { status?: number }).status
      if (status === 404 || status === 401 || status === 403) {
        handlers.onError?.(error)
        return finish()
      }
      failures++
    }
    if (!closed) timer = setTimeout(() => void poll(), Math.min(interval * 2 ** Math.min(failures, 4), 15_000))
  }

  function startPolling(): void {
    if (closed || timer || controller) return
    void poll()
  }

  if (ES) {
    try {
      source = new ES(deps.eventsUrl(id), { withCredentials: true })
      source.addEventListener('task', (event) => {
        try {
          deliver(JSON.parse((event as MessageEvent<string>).data) as Task)
        } catch {
          // a garbled event: the next one, or the poll fallback, will bring the state
        }
      })
      source.addEventListener('end', () => finish())
      source.onerror = () => {
        // EventSource would reconnect forever on its own; poll instead, which also survives
        // proxies that buffer or cut long responses.
        if (closed) return
        source?.close()
        source = null
        startPolling()
      }
    } catch {
      source = null
      startPolling()
    }
  } else {
    startPolling()
  }

  return close
}
