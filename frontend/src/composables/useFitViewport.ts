import { onBeforeUnmount, onMounted, type Ref } from 'vue'

/**
 * Height a sticky panel may take so that its bottom stays `gap` px above the viewport's bottom,
 * wherever it currently starts: below banners at the top of the page, or stuck at `stickyTop`
 * once the page has scrolled. Never below `min`.
 */
export function fitHeight(viewportHeight: number, top: number, stickyTop: number, gap: number, min = 240): number {
  return Math.max(min, Math.floor(viewportHeight - Math.max(top, stickyTop) - gap))
}

/**
 * Keep a `position: sticky` scroll panel inside the viewport (its own scrollbar, footer visible),
 * so the panel never makes the page itself scroll and push the banners above it under the sticky
 * header. Active only while `media` matches; below that the panel is in the normal flow.
 */
export function useFitViewport(target: Ref<HTMLElement | null>, media = '(min-width: 961px)', gap = 16): void {
  let frame = 0
  let observer: ResizeObserver | null = null
  let query: MediaQueryList | null = null

  function apply(): void {
    frame = 0
    const el = target.value
    if (!el) return
    if (query && !query.matches) {
      el.style.removeProperty('max-height')
      return
    }
    const stickyTop = Number.parseFloat(getComputedStyle(el).top) || 0
    const height = fitHeight(window.innerHeight, el.getBoundingClientRect().top, stickyTop, gap)
    el.style.maxHeight = `${height}px`
  }

  function schedule(): void {
    if (!frame) frame = requestAnimationFrame(apply)
  }

  onMounted(() => {
    query = window.matchMedia?.(media) ?? null
    query?.addEventListener?.('change', schedule)
    window.addEventListener('resize', schedule)
    window.addEventListener('scroll', schedule, { passive: true })
    if (typeof ResizeObserver !== 'undefined') {
      // banners appearing/disappearing above the panel change the page's height
      observer = new ResizeObserver(schedule)
      observer.observe(document.body)
    }
    apply()
  })

  onBeforeUnmount(() => {
    if (frame) cancelAnimationFrame(frame)
    query?.removeEventListener?.('change', schedule)
    window.removeEventListener('resize', schedule)
    window.removeEventListener('scroll', schedule)
    observer?.disconnect()
  })
}
