import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import LineagePanel from '@/components/LineagePanel.vue'
import { applyLocale } from '@/locales'
import { jsonResponse, plugins, setupStores, testRouter } from '../helpers'
import { mockFetch } from '../mocks'

const image = { id: 'c000i00000', index: 0, url: '/images/c.png', thumbnail_url: null, width: 2048, height: 1024, seed: 1, bytes: 1, content_type: 'image/png' }

function step(task: string, operation: string | null, width = 1024) {
  return {
    image_id: `${task}i00000`,
    task_id: task,
    type: operation ? 'edit' : 'text2image',
    operation,
    model: 'demo',
    prompt: `prompt of ${task}`,
    url: `/images/${task}.png`,
    thumbnail_url: null,
    width,
    height: 1024,
    created_at: '2026-11-30T00:00:00Z',
    missing: false,
  }
}

async function mountPanel(answer: unknown, status = 200) {
  mockFetch({ 'GET /api/v1/images/c000i00000/lineage': () => jsonResponse(answer, status) })
  const wrapper = mount(LineagePanel, {
    props: { image, operation: 'outpaint' },
    global: { plugins: plugins(setupStores(), testRouter()) },
  })
  await flushPromises()
  return wrapper
}

describe('LineagePanel', () => {
  beforeEach(() => applyLocale('en'))
  afterEach(() => vi.unstubAllGlobals())

  it('links the parent and lists the chain oldest first, ending with this image', async () => {
    const wrapper = await mountPanel({
      image_id: 'c000i00000',
      ancestors: [step('b000', 'inpaint'), step('a000', null)],
      from_upload: false,
      broken_at: null,
    })
    const parent = wrapper.get('[data-testid="lineage-parent"]')
    expect(parent.attributes('href')).toBe('/history/b000')
    expect(parent.text()).toContain('Inpaint')
    const items = wrapper.findAll('[data-testid="lineage-chain"] li').map((li) => li.text())
    expect(items).toHaveLength(3)
    expect(items[0]).toContain('Text to image')
    expect(items[1]).toContain('Inpaint')
    expect(items[2]).toContain('Outpaint')
    expect(items[2]).toContain('2048 × 1024')
    // before / after with the parent, on demand
    expect(wrapper.find('[data-testid="compare"]').exists()).toBe(false)
    await wrapper.get('[data-testid="lineage-compare"]').trigger('click')
    await flushPromises()
    await vi.dynamicImportSettled()
    await flushPromises()
    expect(wrapper.get('[data-testid="compare"]').findAll('img').map((i) => i.attributes('src'))).toEqual(['/images/b000.png', '/images/c.png'])
  })

  it('says when the chain starts from an upload', async () => {
    const wrapper = await mountPanel({ image_id: 'c000i00000', ancestors: [], from_upload: true, broken_at: null })
    expect(wrapper.get('[data-testid="lineage-upload"]').text()).toBe('An uploaded image')
    expect(wrapper.find('[data-testid="lineage-parent"]').exists()).toBe(false)
  })

  it("shows the server's message when the chain cannot be read", async () => {
    const wrapper = await mountPanel({ error: { code: 'not_found', message: 'Image not found.' } }, 404)
    expect(wrapper.get('.field-error').text()).toBe('Image not found.')
  })
})
