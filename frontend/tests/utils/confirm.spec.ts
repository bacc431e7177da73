import { flushPromises } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { applyLocale } from '@/locales'
import { confirmDanger } from '@/utils/confirm'

async function box(): Promise<HTMLElement> {
  for (let i = 0; i < 20; i++) {
    await flushPromises()
    const found = document.querySelector<HTMLElement>('.el-message-box')
    if (found) return found
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error('no message box')
}

function buttons(el: HTMLElement): { confirm: HTMLButtonElement; cancel: HTMLButtonElement } {
  const all = [...el.querySelectorAll<HTMLButtonElement>('.el-message-box__btns button')]
  const confirm = all.find((b) => b.classList.contains('el-button--danger'))
  const cancel = all.find((b) => !b.classList.contains('el-button--danger'))
  if (!confirm || !cancel) throw new Error('buttons missing')
  return { confirm, cancel }
}

describe('confirmDanger', () => {
  beforeEach(() => applyLocale('zh-CN'))
  afterEach(() => {
    document.body.innerHTML = ''
  })

  it('asks in the UI language with a red button named after the action; yes is true', async () => {
    const answer = confirmDanger('删除这 3 张图片？')
    const el = await box()
    expect(el.textContent).toContain('删除这 3 张图片？')
    const { confirm, cancel } = buttons(el)
    expect(confirm.textContent?.trim()).toBe('删除')
    expect(cancel.textContent?.trim()).toBe('取消')
    confirm.click()
    expect(await answer).toBe(true)
  })

  it('cancel is false; the title and the action can be named', async () => {
    applyLocale('en')
    const answer = confirmDanger('Revoke token "ci"?', { title: 'API tokens', action: 'Revoke' })
    const el = await box()
    expect(el.querySelector('.el-message-box__title')?.textContent).toContain('API tokens')
    const { confirm, cancel } = buttons(el)
    expect(confirm.textContent?.trim()).toBe('Revoke')
    expect(cancel.textContent?.trim()).toBe('Cancel')
    cancel.click()
    expect(await answer).toBe(false)
  })
})
