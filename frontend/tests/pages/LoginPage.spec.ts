import { flushPromises, mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import LoginPage from '@/pages/LoginPage.vue'
import { applyLocale } from '@/locales'
import { jsonResponse, plugins, setupStores, testRouter } from '../helpers'
import { mockFetch } from '../mocks'

describe('LoginPage', () => {
  it('goes to the deep link, and a late status answer does not move the user again', async () => {
    applyLocale('en')
    let answerStatus: (r: Response) => void = () => undefined
    mockFetch({
      'GET /api/v1/auth/status': () => new Promise<Response>((resolve) => (answerStatus = resolve)),
      'POST /api/v1/auth/login': () => new Response(null, { status: 204 }),
      'GET /health': () => jsonResponse({ status: 'healthy' }),
    })
    const router = testRouter()
    router.addRoute({ path: '/history/:id?', name: 'history', component: { template: '<div />' } })
    await router.push('/login?redirect=%2Fhistory%2Fabc%3Fq%3Dfox')
    const wrapper = mount(LoginPage, { global: { plugins: plugins(setupStores(), router) } })
    await wrapper.get('input[type=password]').setValue('secret')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(router.currentRoute.value.fullPath).toBe('/history/abc?q=fox')

    answerStatus(jsonResponse({ auth_required: true, authenticated: true }))
    await flushPromises()
    expect(router.currentRoute.value.fullPath).toBe('/history/abc?q=fox')
  })

  it('refuses a redirect to another site', async () => {
    mockFetch({ 'GET /api/v1/auth/status': () => jsonResponse({ auth_required: false, authenticated: false }) })
    const router = testRouter()
    await router.push('/login?redirect=%2F%2Fevil.example%2F')
    mount(LoginPage, { global: { plugins: plugins(setupStores(), router) } })
    await flushPromises()
    expect(router.currentRoute.value.fullPath).toBe('/')
  })
})
