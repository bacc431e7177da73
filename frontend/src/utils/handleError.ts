/**
 * The one place errors become something the user sees: the server's message as it is (already
 * in the user's language), plus a short hint keyed by the error code.
 */
import { ElMessage } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import { h } from 'vue'
import { ApiError, isAbortError } from '@/api/client'
import { i18n, t } from '@/locales'

export interface ErrorDescription {
  code: string
  message: string
  hint: string | null
  /** Nothing to show: an aborted request, or a 401 that already sent the user to the login page. */
  silent: boolean
}

export function hintFor(code: string): string | null {
  const key = `errors.hints.${code}`
  return i18n.global.te(key) ? t(key) : null
}

export function describeError(error: unknown): ErrorDescription {
  if (isAbortError(error)) return { code: 'aborted', message: '', hint: null, silent: true }
  if (error instanceof ApiError) {
    return {
      code: error.code,
      message: error.message || t('errors.unexpected'),
      hint: hintFor(error.code),
      silent: error.status === 401,
    }
  }
  const message = error instanceof Error && error.message ? error.message : t('errors.unexpected')
  return { code: 'client_error', message, hint: null, silent: false }
}

export function handleError(error: unknown): ErrorDescription {
  const info = describeError(error)
  if (info.silent) return info
  if (!(error instanceof ApiError)) console.error(error)
  ElMessage({
    type: 'error',
    duration: info.hint ? 8000 : 5000,
    showClose: true,
    grouping: true,
    message: info.hint
      ? h('div', { class: 'error-message' }, [h('div', info.message), h('div', { class: 'error-hint' }, info.hint)])
      : info.message,
  })
  return info
}
