import { mount } from '@vue/test-utils'
import { beforeEach, describe, expect, it } from 'vitest'
import TaskCost from '@/components/TaskCost.vue'
import { applyLocale } from '@/locales'
import { makeTask, plugins, setupStores } from '../helpers'

function render(overrides: Parameters<typeof makeTask>[0], variant?: 'overlay') {
  return mount(TaskCost, { props: { task: makeTask(overrides), variant }, global: { plugins: plugins(setupStores()) } })
}

describe('TaskCost', () => {
  beforeEach(() => applyLocale('zh-CN'))

  it('shows "up to" the reserved maximum while the task runs', () => {
    const badge = render({ is_demo: false, status: 'processing', cost_max_cny: 0.8 }).get('[data-testid="task-cost"]')
    expect(badge.text()).toBe('最多 ¥0.80')
    expect(badge.attributes('data-state')).toBe('upTo')
  })

  it('shows the cost and the billed images once the task ended', () => {
    const wrapper = render({ is_demo: false, status: 'completed', cost_max_cny: 0.8, cost_cny: 0.4, billed_images: 2 })
    expect(wrapper.text()).toBe('¥0.40（2 张计费）')
    applyLocale('en')
    const en = render({ is_demo: false, status: 'completed', cost_max_cny: 0.2, cost_cny: 0.2, billed_images: 1 })
    expect(en.text()).toBe('¥0.20 (1 image billed)')
  })

  it('over a picture, the amount alone, the rest in its title', () => {
    const badge = render({ is_demo: false, status: 'completed', cost_cny: 0.4, billed_images: 2 }, 'overlay').get('span')
    expect(badge.text()).toBe('¥0.40')
    expect(badge.attributes('title')).toBe('¥0.40（2 张计费）')
  })

  it('adds the web searches the model ran, billed apart and not priced here', () => {
    const wrapper = render({ is_demo: false, status: 'completed', cost_cny: 0.22, billed_images: 1, web_searches: 3 })
    expect(wrapper.text()).toBe('¥0.22（1 张计费） + 联网搜索 3 次（另行计费，未计入）')
    applyLocale('en')
    const en = render({ is_demo: false, status: 'completed', cost_cny: 0.22, billed_images: 1, web_searches: 1 })
    expect(en.text()).toBe('¥0.22 (1 image billed) + 1 web search (billed separately, not priced here)')
    expect(render({ is_demo: false, status: 'completed', cost_cny: 0.22, billed_images: 1, web_searches: 0 }).text()).toBe(
      '¥0.22 (1 image billed)',
    )
  })

  it('a demo task is free', () => {
    expect(render({ is_demo: true, cost_cny: 0, billed_images: 1 }).text()).toBe('免费')
  })

  it('renders nothing before the price is known', () => {
    expect(render({ is_demo: false, cost_max_cny: 0 }).find('[data-testid="task-cost"]').exists()).toBe(false)
  })
})
