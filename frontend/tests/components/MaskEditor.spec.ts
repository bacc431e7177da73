import { flushPromises, mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import MaskEditor from '@/components/MaskEditor.vue'
import { i18n } from '@/locales'
import { MaskBuffer, MASK_ON } from '@/utils/mask'
import { readGreyPng } from '../pngRead'

/** The source is 800 × 400; the canvas is shown at 200 × 100 (a quarter). */
function mountEditor() {
  const wrapper = mount(MaskEditor, {
    props: { src: '/images/a.png', width: 800, height: 400, alt: 'a fox' },
    global: { plugins: [i18n] },
    attachTo: document.body,
  })
  const canvas = wrapper.get('[data-testid="mask-canvas"]').element as HTMLCanvasElement
  canvas.getBoundingClientRect = () => ({ left: 0, top: 0, right: 200, bottom: 100, width: 200, height: 100, x: 0, y: 0, toJSON: () => ({}) })
  const mask = () => (wrapper.vm as unknown as { mask: MaskBuffer }).mask
  return { wrapper, canvas, mask }
}

function pointer(target: Element, type: string, init: PointerEventInit): void {
  target.dispatchEvent(new PointerEvent(type, { bubbles: true, pointerId: 1, pointerType: 'mouse', button: 0, buttons: 1, ...init }))
}

async function stroke(canvas: Element, points: [number, number][], init: PointerEventInit = {}): Promise<void> {
  const [first, ...rest] = points
  pointer(canvas, 'pointerdown', { clientX: first![0], clientY: first![1], ...init })
  for (const [x, y] of rest) pointer(canvas, 'pointermove', { clientX: x, clientY: y, ...init })
  pointer(canvas, 'pointerup', { clientX: points.at(-1)![0], clientY: points.at(-1)![1], ...init })
  await flushPromises()
}

describe('MaskEditor', () => {
  it('draws at the source size whatever the display size', async () => {
    const { wrapper, canvas, mask } = mountEditor()
    expect(canvas.width).toBe(800)
    expect(canvas.height).toBe(400)
    // brush 40 px on screen = radius 80 source pixels; a drag from (20,50) to (180,50) on screen
    await wrapper.get('[data-testid="mask-size"]').setValue('40')
    await stroke(canvas, [
      [20, 50],
      [180, 50],
    ])
    const m = mask()
    expect(m.width).toBe(800)
    expect(m.height).toBe(400)
    expect(m.at(80, 200)).toBe(MASK_ON)
    expect(m.at(400, 200)).toBe(MASK_ON)
    expect(m.at(720, 200)).toBe(MASK_ON)
    expect(m.at(400, 270)).toBe(MASK_ON)
    expect(m.at(400, 290)).toBe(0)
    expect(wrapper.emitted('change')?.at(-1)).toEqual([true])
    wrapper.unmount()
  })

  it('erases, undoes, redoes, inverts and clears from its toolbar', async () => {
    const { wrapper, canvas, mask } = mountEditor()
    await wrapper.get('[data-testid="mask-size"]').setValue('20')
    await stroke(canvas, [[100, 50]])
    const painted = mask().count()
    expect(painted).toBeGreaterThan(0)

    await wrapper.get('[data-testid="mask-eraser"]').trigger('click')
    await wrapper.get('[data-testid="mask-size"]').setValue('4')
    await stroke(canvas, [[100, 50]])
    expect(mask().at(400, 200)).toBe(0)
    expect(mask().count()).toBeLessThan(painted)

    await wrapper.get('[data-testid="mask-undo"]').trigger('click')
    expect(mask().count()).toBe(painted)
    await wrapper.get('[data-testid="mask-redo"]').trigger('click')
    expect(mask().at(400, 200)).toBe(0)

    const before = mask().count()
    await wrapper.get('[data-testid="mask-invert"]').trigger('click')
    expect(mask().count()).toBe(800 * 400 - before)
    expect(mask().at(400, 200)).toBe(MASK_ON)

    await wrapper.get('[data-testid="mask-clear"]').trigger('click')
    expect(mask().isEmpty()).toBe(true)
    expect(wrapper.get('[data-testid="mask-clear"]').attributes('disabled')).toBeDefined()
    expect(wrapper.emitted('change')?.at(-1)).toEqual([false])
    await wrapper.get('[data-testid="mask-undo"]').trigger('click')
    expect(mask().count()).toBe(800 * 400 - before)
    wrapper.unmount()
  })

  it('Ctrl+Z and Ctrl+Shift+Z undo and redo', async () => {
    const { wrapper, canvas, mask } = mountEditor()
    await stroke(canvas, [[50, 50]])
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'z', ctrlKey: true }))
    expect(mask().isEmpty()).toBe(true)
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Z', ctrlKey: true, shiftKey: true }))
    expect(mask().isEmpty()).toBe(false)
    wrapper.unmount()
  })

  it("follows a pen's pressure and ignores a second finger", async () => {
    const { wrapper, canvas, mask } = mountEditor()
    await wrapper.get('[data-testid="mask-size"]').setValue('40')
    await stroke(canvas, [[50, 50]], { pointerType: 'pen', pressure: 0.25 })
    // radius 80 × 0.25 = 20 source pixels
    expect(mask().at(200, 215)).toBe(MASK_ON)
    expect(mask().at(200, 230)).toBe(0)
    mask().clear()

    pointer(canvas, 'pointerdown', { pointerType: 'touch', pointerId: 7, clientX: 20, clientY: 20 })
    pointer(canvas, 'pointerdown', { pointerType: 'touch', pointerId: 8, clientX: 180, clientY: 80 })
    pointer(canvas, 'pointermove', { pointerType: 'touch', pointerId: 8, clientX: 170, clientY: 80 })
    pointer(canvas, 'pointerup', { pointerType: 'touch', pointerId: 7, clientX: 20, clientY: 20 })
    expect(mask().at(80, 80)).toBe(MASK_ON)
    expect(mask().at(720, 320)).toBe(0)
    wrapper.unmount()
  })

  it('exports a single-channel PNG at the source size, 255 = redraw', async () => {
    const { wrapper, canvas, mask } = mountEditor()
    await stroke(canvas, [[100, 50]])
    const blob = await (wrapper.vm as unknown as { exportPng: () => Promise<Blob> }).exportPng()
    const png = await readGreyPng(blob)
    expect(png).toMatchObject({ width: 800, height: 400, bitDepth: 8, colourType: 0 })
    expect(png.pixels).toEqual(mask().data)
    expect(png.pixels[200 * 800 + 400]).toBe(255)
    wrapper.unmount()
  })
})
