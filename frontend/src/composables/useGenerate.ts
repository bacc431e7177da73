/**
 * The Generate page's behaviour: pick the model (query `?model=`, last choice, or the server's
 * default), prefill `?prompt=`, and submit the form: many submits simply queue more tasks.
 */
import { ElMessage } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import { ref, watch } from 'vue'
import { useRoute } from 'vue-router'
import { ApiError } from '@/api/client'
import { t } from '@/locales'
import { useBudgetStore } from '@/stores/budget'
import { useCatalogStore } from '@/stores/catalog'
import { useGenerateFormStore } from '@/stores/generateForm'
import { usePricesStore } from '@/stores/prices'
import { useTasksStore } from '@/stores/tasks'
import { handleError } from '@/utils/handleError'

function firstQueryValue(value: unknown): string | null {
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : null
  return typeof value === 'string' ? value : null
}

export function useGenerate() {
  const route = useRoute()
  const catalog = useCatalogStore()
  const form = useGenerateFormStore()
  const tasks = useTasksStore()
  const prices = usePricesStore()
  const budget = useBudgetStore()
  const submitting = ref(false)
  const ready = ref(false)

  async function init(): Promise<void> {
    // The price on the button is informative: without the list the button just says "Generate".
    void prices.load().catch(() => undefined)
    try {
      await catalog.loadModels()
    } catch (error) {
      handleError(error)
      return
    }
    const wanted = firstQueryValue(route.query.model)
    const fromQuery = wanted ? catalog.model(wanted) : undefined
    if (wanted && !fromQuery) {
      ElMessage({ type: 'warning', message: t('generate.unknownModel', { id: wanted }), showClose: true })
    }
    const current = catalog.model(form.modelId)
    const pick = fromQuery?.id ?? (current?.available ? current.id : catalog.defaultModel || catalog.available[0]?.id || '')
    form.selectModel(pick)
    const prompt = firstQueryValue(route.query.prompt)
    if (prompt) form.prompt = prompt
    ready.value = true
    void tasks.restoreSession().catch(() => undefined)
  }

  // Following a link such as /?model=jimeng_t2i_v30 while already on the page.
  watch(
    () => route.query.model,
    (value) => {
      const id = firstQueryValue(value)
      if (ready.value && id && catalog.model(id) && id !== form.modelId) form.selectModel(id)
    },
  )

  async function submit(): Promise<void> {
    const issue = form.issues[0]
    if (issue) {
      ElMessage({ type: 'warning', message: t(issue.key, issue.params ?? {}), showClose: true })
      return
    }
    const { type, body } = form.buildSubmission()
    submitting.value = true
    try {
      await tasks.submit(type, body)
    } catch (error) {
      // the server's own message, in the UI's language; the budget notice then shows what is left
      handleError(error)
      if (error instanceof ApiError && error.code === 'budget_exceeded') void budget.loadSummary().catch(() => undefined)
    } finally {
      submitting.value = false
    }
  }

  return { init, submit, submitting, ready }
}
