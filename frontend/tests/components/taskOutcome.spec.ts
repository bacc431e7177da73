import { mount } from '@vue/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { nextTick } from 'vue'
import type { Health, Task } from '@/api/types'
import HealthWarnings from '@/components/HealthWarnings.vue'
import HistoryCard from '@/components/HistoryCard.vue'
import HistoryDetail from '@/components/HistoryDetail.vue'
import TaskCard from '@/components/TaskCard.vue'
import { applyLocale } from '@/locales'
import { useCatalogStore } from '@/stores/catalog'
import { messageIn } from '@/utils/bilingual'
import { makeTask, output, plugins, setupStores } from '../helpers'

const THROTTLED = {
  code: 'upstream_rate_limited',
  message: 'Ark is throttling requests (rate limit reached). The request was retried; try again in a minute.',
  message_zh: '方舟正在限流（已达到调用频率上限）。已自动重试；请一分钟后再试，或降低并发数。',
  retryable: true,
}
const CUT = { code: 'upstream_error', message: 'The response from Ark was cut off. Try again.', message_zh: '方舟的响应被截断了。请重试。' }
const REFUSED = {
  code: 'content_moderation',
  message: 'The generated image was blocked by Volcengine content moderation.',
  message_zh: '生成的图片未通过火山引擎内容审核。',
}

const failed = (): Task => makeTask({ status: 'failed', is_demo: false, model: 'doubao-seedream-4-0-250828', error: THROTTLED })
/** A group of 4: images 0 and 3 came, 1 was refused, 2 was lost when the stream was cut. */
const partial = (): Task =>
  makeTask({
    status: 'completed',
    progress: 100,
    expected_images: 4,
    outputs: [output(0), output(3)],
    failures: [
      { index: 2, ...CUT },
      { index: 1, ...REFUSED },
    ],
  })

function mountCard(task: Task) {
  return mount(TaskCard, { props: { task }, global: { plugins: plugins(setupStores()) } })
}

afterEach(() => applyLocale('zh-CN'))

describe('task errors come in the language of the UI', () => {
  it('shows the Chinese message in zh and the English one in en, switching live', async () => {
    applyLocale('zh-CN')
    const wrapper = mountCard(failed())
    const error = () => wrapper.get('[data-testid="task-error-card"]').text()
    expect(error()).toContain(THROTTLED.message_zh)
    expect(error()).not.toMatch(/[A-Za-z]{4,}/)

    applyLocale('en')
    await nextTick()
    expect(wrapper.get('[data-testid="task-error"]').text()).toBe(THROTTLED.message)
    expect(error()).not.toContain('方舟')
  })

  it('per-image failures too, grouped by reason', async () => {
    applyLocale('zh-CN')
    const wrapper = mountCard(partial())
    const reasons = () => wrapper.findAll('[data-testid="task-failures"] li').map((li) => li.text())
    expect(reasons()).toEqual([`第 2 张未生成：${REFUSED.message_zh}`, `第 3 张未生成：${CUT.message_zh}`])

    applyLocale('en')
    await nextTick()
    expect(reasons()).toEqual([`Image 2 did not come: ${REFUSED.message}`, `Image 3 did not come: ${CUT.message}`])
  })

  it('one line for the images lost to the same reason', () => {
    applyLocale('en')
    const task = makeTask({
      status: 'completed',
      expected_images: 3,
      outputs: [output(0)],
      failures: [
        { index: 1, ...CUT },
        { index: 2, ...CUT },
      ],
    })
    const lines = mountCard(task).findAll('[data-testid="task-failures"] li').map((li) => li.text())
    expect(lines).toEqual([`Images 2, 3 did not come: ${CUT.message}`])
  })

  it('falls back to the English message for a record stored without Chinese', () => {
    expect(messageIn({ message: 'Old row.' }, 'zh-CN')).toBe('Old row.')
    expect(messageIn({ message: 'Old row.', message_zh: '' }, 'zh-CN')).toBe('Old row.')
    expect(messageIn({ message: 'New row.', message_zh: '新记录。' }, 'zh-CN')).toBe('新记录。')
    expect(messageIn({ message: 'New row.', message_zh: '新记录。' }, 'en')).toBe('New row.')
  })

  it('history detail shows the error in the language of the UI', async () => {
    applyLocale('zh-CN')
    const wrapper = mount(HistoryDetail, { props: { task: failed() }, global: { plugins: plugins(setupStores()) } })
    expect(wrapper.get('[data-testid="detail-error"]').text()).toBe(THROTTLED.message_zh)
    applyLocale('en')
    await nextTick()
    expect(wrapper.get('[data-testid="detail-error"]').text()).toBe(THROTTLED.message)
  })
})

describe('a completed task with missing images is partial, in amber', () => {
  it('task card: amber tag and border, "n of m" with the reasons', async () => {
    applyLocale('zh-CN')
    const wrapper = mountCard(partial())
    const tag = wrapper.get('.el-tag')
    expect(tag.attributes('data-status')).toBe('partial')
    expect(tag.classes()).toEqual(expect.arrayContaining(['el-tag--warning', 'el-tag--dark']))
    expect(tag.text()).toBe('部分完成')
    expect(wrapper.get('[data-testid="task-card"]').classes()).toContain('task-card--partial')
    expect(wrapper.get('[data-testid="task-partial"]').text()).toBe('只生成了 2 / 4 张')
    expect(wrapper.get('[data-testid="task-failures"]').classes()).toContain('is-partial')

    applyLocale('en')
    await nextTick()
    expect(wrapper.get('.el-tag').text()).toBe('Partly done')
    expect(wrapper.get('[data-testid="task-partial"]').text()).toBe('Only 2 of 4 images came')
  })

  it('a full success stays green, with no partial note', () => {
    const wrapper = mountCard(makeTask({ status: 'completed', outputs: [output(0)] }))
    const tag = wrapper.get('.el-tag')
    expect(tag.attributes('data-status')).toBe('completed')
    expect(tag.classes()).toContain('el-tag--success')
    expect(wrapper.find('[data-testid="task-partial"]').exists()).toBe(false)
    expect(wrapper.get('[data-testid="task-card"]').classes()).not.toContain('task-card--partial')
  })

  it('history card: "n/m" badge whose title gives the reasons', () => {
    applyLocale('zh-CN')
    const wrapper = mount(HistoryCard, {
      props: { task: partial(), selecting: false, selected: false },
      global: { plugins: plugins(setupStores()) },
    })
    const badge = wrapper.get('[data-testid="history-partial"]')
    expect(badge.text()).toBe('2/4')
    expect(badge.attributes('title')).toBe(['只生成了 2 / 4 张', REFUSED.message_zh, CUT.message_zh].join('\n'))
  })

  it('history detail: the same tag and note', () => {
    applyLocale('zh-CN')
    const wrapper = mount(HistoryDetail, { props: { task: partial() }, global: { plugins: plugins(setupStores()) } })
    expect(wrapper.get('.el-tag').attributes('data-status')).toBe('partial')
    expect(wrapper.get('[data-testid="task-partial"]').text()).toBe('只生成了 2 / 4 张')
  })
})

describe('health warnings come in the language of the UI', () => {
  const health = {
    status: 'healthy',
    volcengine_configured: true,
    warnings: [
      {
        code: 'no_app_password',
        message: 'Volcengine credentials are configured but APP_PASSWORD is not set.',
        message_zh: '已配置火山引擎凭证，但没有设置 APP_PASSWORD。',
      },
    ],
  } as unknown as Health

  it('shows the warning localized and keeps it dismissed in either language', async () => {
    applyLocale('zh-CN')
    const pinia = setupStores()
    useCatalogStore().health = health
    const wrapper = mount(HealthWarnings, { global: { plugins: plugins(pinia) } })
    expect(wrapper.text()).toContain('已配置火山引擎凭证，但没有设置 APP_PASSWORD。')
    applyLocale('en')
    await nextTick()
    expect(wrapper.text()).toContain('Volcengine credentials are configured but APP_PASSWORD is not set.')
    await wrapper.get('.el-alert__close-btn').trigger('click')
    applyLocale('zh-CN')
    await nextTick()
    expect(wrapper.find('.el-alert').exists()).toBe(false)
    expect(JSON.parse(sessionStorage.getItem('vis.dismissed-warnings') ?? '[]')).toEqual(['no_app_password'])
  })
})
