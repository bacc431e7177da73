import { onBeforeUnmount, watch, type Ref } from 'vue'

/**
 * Call `onVisible` whenever `target` (a sentinel after the last item) comes within `rootMargin`
 * of the viewport. Without IntersectionObserver nothing happens; the page offers a button too.
 */
export function useInfiniteScroll(target: Ref<Element | null>, onVisible: () => void, rootMargin = '800px'): void {
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

  onBeforeUnmount(disconnect)
}
