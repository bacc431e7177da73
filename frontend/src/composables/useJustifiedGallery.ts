/**
 * Windowed justified gallery: the row layout is computed from the cards' aspect ratios and the
 * grid's width, and only the rows within `overscan` px of the viewport are rendered (absolutely
 * positioned inside a grid as tall as all rows), so thousands of loaded items cost a few dozen
 * DOM cards. Until the grid has a measurable width (tests, hidden tab) every card is rendered.
 */
import { computed, onBeforeUnmount, onMounted, ref, shallowRef, watch, type Ref } from 'vue'
import type { Task } from '@/api/types'
import { coverAspect, justifyRows, visibleRows, type JustifiedRow } from '@/utils/justify'

export interface JustifiedGalleryOptions {
  gap?: number
  /** px above and below the viewport to keep rendered */
  overscan?: number
}

export function useJustifiedGallery(
  items: Ref<readonly Task[]>,
  grid: Ref<HTMLElement | null>,
  options: JustifiedGalleryOptions = {},
) {
  const gap = options.gap ?? 6
  const overscan = options.overscan ?? 1200
  const width = ref(0)
  const target = ref(200)
  /** the viewport in gallery coordinates */
  const view = shallowRef<{ from: number; to: number }>({ from: 0, to: 0 })
  let frame = 0
  let observer: ResizeObserver | null = null

  const aspects = computed(() => items.value.map(coverAspect))
  const windowed = computed(() => width.value > 0)
  const layout = computed(() => justifyRows(aspects.value, width.value, target.value, gap))
  const range = computed(() => visibleRows(layout.value.rows, view.value.from - overscan, view.value.to + overscan))
  const rows = computed<JustifiedRow[]>(() => {
    if (!windowed.value) return []
    const [first, last] = range.value
    return layout.value.rows.slice(first, last + 1)
  })

  function measure(): void {
    frame = 0
    const el = grid.value
    if (!el) return
    const w = el.clientWidth
    if (w !== width.value) width.value = w
    const row = Number.parseFloat(getComputedStyle(el).getPropertyValue('--gallery-row'))
    if (row > 0 && row !== target.value) target.value = row
    const top = el.getBoundingClientRect().top
    const next = { from: -top, to: -top + window.innerHeight }
    // re-render only when the window moved by a meaningful amount
    if (Math.abs(next.from - view.value.from) > 64 || Math.abs(next.to - view.value.to) > 64) view.value = next
  }

  function schedule(): void {
    if (!frame) frame = requestAnimationFrame(measure)
  }

  onMounted(() => {
    window.addEventListener('scroll', schedule, { passive: true })
    window.addEventListener('resize', schedule)
    if (typeof ResizeObserver !== 'undefined' && grid.value) {
      observer = new ResizeObserver(schedule)
      observer.observe(grid.value)
    }
    measure()
  })

  onBeforeUnmount(() => {
    if (frame) cancelAnimationFrame(frame)
    window.removeEventListener('scroll', schedule)
    window.removeEventListener('resize', schedule)
    observer?.disconnect()
  })

  // the first page arrives after mount: measure once the grid has content
  watch(
    () => items.value.length,
    () => schedule(),
    { flush: 'post' },
  )

  return { windowed, layout, rows, aspects, measure }
}
