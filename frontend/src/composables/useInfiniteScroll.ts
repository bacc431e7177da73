import { onBeforeUnmount, watch, type Ref } from 'vue'

/**
 * Call `onVisible` whenever `target` (a sentinel after the last item) comes within `rootMargin`
 * of the viewport. Without IntersectionObserver nothing happens; the page offers a button too.
 *
 * An observer only reports changes, so a sentinel that is still near the viewport after a page
 * has loaded (tall screen, short page) would never fire again: `recheck()` re-observes it, which
 * makes the observer report its current state once more.
 */
export function useInfiniteScroll(
  target: Ref<Element | null>,
  onVisible: () => void,
  rootMargin = '800px',
): { recheck: () => void } {
  let observer: IntersectionObserver | null = null

  function disconnect(): void {
    observer?.disconnect()
    observer = null
  }

  watch(
    target,
    (element) => {
      disconnect()
      if (!element || typeof IntersectionObserver === 'undefined') return
      observer = new IntersectionObserver(
        (entries) => {
          if (entries.some((entry) => entry.isIntersecting)) onVisible()
        },
        { rootMargin },
      )
      observer.observe(element)
    },
    { immediate: true, flush: 'post' },
  )

  function recheck(): void {
    const element = target.value
    if (!observer || !element) return
    observer.unobserve(element)
    observer.observe(element)
  }

  onBeforeUnmount(disconnect)
  return { recheck }
}
