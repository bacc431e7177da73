import { describe, expect, it } from 'vitest'
import { fitHeight } from '@/composables/useFitViewport'

describe('fitHeight', () => {
  it('leaves room for whatever sits above the panel (banners) at the top of the page', () => {
    // 768px viewport, panel starts at 132px below a banner, 16px gap → ends 16px above the bottom
    expect(fitHeight(768, 132, 72, 16)).toBe(620)
  })

  it('uses the sticky offset once the panel is stuck under the header', () => {
    expect(fitHeight(768, 72, 72, 16)).toBe(680)
    // scrolled so far the panel's normal position is above the viewport: it is stuck at 72px
    expect(fitHeight(768, -400, 72, 16)).toBe(680)
  })

  it('never goes below the minimum on tiny screens', () => {
    expect(fitHeight(300, 200, 72, 16)).toBe(240)
  })
})
