/**
 * Ask before something that cannot be undone (delete, revoke): a warning box whose red button
 * names the action, in the UI's language. True when the user confirmed; closing it, Escape or
 * "cancel" are all a no.
 */
import { ElMessageBox } from 'element-plus'
import 'element-plus/es/components/message-box/style/css'
import { t } from '@/locales'

export interface ConfirmDangerOptions {
  /** Box title; "Delete" unless given. */
  title?: string
  /** The red button's label; "Delete" unless given. */
  action?: string
}

export async function confirmDanger(message: string, options: ConfirmDangerOptions = {}): Promise<boolean> {
  try {
    await ElMessageBox.confirm(message, options.title ?? t('actions.delete'), {
      type: 'warning',
      confirmButtonText: options.action ?? t('actions.delete'),
      cancelButtonText: t('actions.cancel'),
      confirmButtonClass: 'el-button--danger',
    })
    return true
  } catch {
    return false
  }
}
