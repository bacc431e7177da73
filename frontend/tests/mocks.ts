import { vi } from 'vitest'

type Listener = (event: MessageEvent<string>) => void

/** A stand-in for the browser's EventSource that tests drive by hand. */
export class MockEventSource {
  static instances: MockEventSource[] = []
  readonly url: string
  closed = false
  /** 0 connecting, 1 open, 2 closed (the browser gave up). */
  readyState = 0
  onerror: ((event: Event) => void) | null = null
  private listeners = new Map<string, Listener[]>()

  constructor(url: string) {
    this.url = url
    MockEventSource.instances.push(this)
  }

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener])
  }

  close(): void {
    this.closed = true
    this.readyState = 2
  }

  emit(type: string, data: unknown = '', lastEventId = ''): void {
    const event = new MessageEvent(type, { data: typeof data === 'string' ? data : JSON.stringify(data), lastEventId })
    for (const listener of this.listeners.get(type) ?? []) listener(event)
  }

  /** ``giveUp``: the browser will not reconnect by itself (readyState CLOSED). */
  fail(giveUp = false): void {
    if (giveUp) this.readyState = 2
    this.onerror?.(new Event('error'))
  }

  static reset(): void {
    MockEventSource.instances = []
  }

  static last(): MockEventSource {
    const last = MockEventSource.instances.at(-1)
    if (!last) throw new Error('no EventSource opened')
    return last
  }
}

/** Route fetch calls by "METHOD path" to handlers; unknown routes fail the test loudly. */
export function mockFetch(routes: Record<string, (url: URL, init: RequestInit) => Response | Promise<Response>>) {
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input), 'http://localhost')
    const key = `${(init.method ?? 'GET').toUpperCase()} ${url.pathname}`
    const handler = routes[key]
    if (!handler) throw new Error(`unexpected fetch ${key}`)
    if (init.signal?.aborted) throw new DOMException('aborted', 'AbortError')
    return handler(url, init)
  })
  vi.stubGlobal('fetch', fn)
  return fn
}

export class MockIntersectionObserver {
  static instances: MockIntersectionObserver[] = []
  readonly callback: IntersectionObserverCallback
  targets: Element[] = []

  constructor(callback: IntersectionObserverCallback) {
    this.callback = callback
    MockIntersectionObserver.instances.push(this)
  }

  observe(target: Element): void {
    this.targets.push(target)
  }

  unobserve(target: Element): void {
    this.targets = this.targets.filter((t) => t !== target)
  }

  disconnect(): void {
    this.targets = []
  }

  takeRecords(): IntersectionObserverEntry[] {
    return []
  }

  /** Pretend the observed sentinel scrolled into view. */
  trigger(): void {
    const entries = this.targets.map((target) => ({ isIntersecting: true, target }) as IntersectionObserverEntry)
    this.callback(entries, this as unknown as IntersectionObserver)
  }
}
