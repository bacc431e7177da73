/**
 * What the user can do with a task or one of its images, shared by the Generate feed, the queue,
 * the history detail and the inspector.
 */
import { ElMessage } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import { useRouter } from 'vue-router'
import type { Task } from '@/api/types'
import { t } from '@/locales'
import { useGenerateFormStore } from '@/stores/generateForm'
import { useReferencesStore } from '@/stores/references'
import { useTasksStore } from '@/stores/tasks'
import { copyText } from '@/utils/clipboard'
import { handleError } from '@/utils/handleError'

export function useTaskActions() {
  const router = useRouter()
  const tasks = useTasksStore()
  const form = useGenerateFormStore()
  const refs = useReferencesStore()

  async function copyPrompt(prompt: string): Promise<void> {
    const ok = await copyText(prompt)
    ElMessage({ type: ok ? 'success' : 'error', message: ok ? t('actions.copied') : t('actions.copyFailed') })
  }

  async function remix(task: Pick<Task, 'model' | 'prompt'> & Partial<Task>): Promise<void> {
    form.remix(task)
    ElMessage({ type: 'success', message: t('actions.remixed') })
    if (router.currentRoute.value.name !== 'generate') await router.push({ name: 'generate' })
  }

  async function useAsReference(url: string): Promise<void> {
    const caps = form.caps
    if (!caps?.image2image) {
      ElMessage({ type: 'warning', message: t('references.errors.notSupported'), showClose: true })
      return
    }
    try {
      const rejected = await refs.addFromUrl(url, caps)
      if (rejected[0]) ElMessage({ type: 'warning', message: rejected[0].reason, showClose: true })
      else ElMessage({ type: 'success', message: t('actions.referenceAdded') })
      if (router.currentRoute.value.name !== 'generate') await router.push({ name: 'generate' })
    } catch (error) {
      handleError(error)
    }
  }

  async function toggleFavorite(task: Task): Promise<Task | null> {
    try {
      return await tasks.setFavorite(task.task_id, !task.favorite)
    } catch (error) {
      handleError(error)
      return null
    }
  }

  async function retry(task: Task): Promise<string | null> {
    try {
      return await tasks.retry(task.task_id)
    } catch (error) {
      handleError(error)
      return null
    }
  }

  async function cancel(task: Task): Promise<void> {
    try {
      await tasks.cancel(task.task_id)
    } catch (error) {
      handleError(error)
    }
  }

  return { copyPrompt, remix, useAsReference, toggleFavorite, retry, cancel }
}
