/**
 * The Generate page's behaviour: pick the model (query `?model=`, last choice, or the server's
 * default), prefill `?prompt=`, and submit the form: many submits simply queue more tasks, but
 * the very same request again within seconds asks first (a double tap must not pay twice).
 */
import { ElMessage, ElMessageBox } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import 'element-plus/es/components/message-box/style/css'
import { onScopeDispose, ref, watch } from 'vue'
import { useRoute } from 'vue-router'
import { ApiError } from '@/api/client'
import { t } from '@/locales'
import { useBudgetStore } from '@/stores/budget'
import { useCatalogStore } from '@/stores/catalog'
import { useGenerateFormStore } from '@/stores/generateForm'
import { usePricesStore } from '@/stores/prices'
import { useTasksStore } from '@/stores/tasks'
import type { Submission } from '@/stores/generateForm'
import { readDraft, writeDraft } from '@/utils/draft'
import { handleError } from '@/utils/handleError'

// Once per page load: the form store outlives the page, so coming back must not reload an older copy.
let draftRestored = false

/** How recent an identical submit must be to ask "again?". */
export const REPEAT_WINDOW_MS = 15_000

/** What makes two submits "the same job": everything but a seed drawn at random for each. */
export function submissionKey(submission: Submission, seedLocked: boolean): string {
  const { seed, ...rest } = submission.body
  return JSON.stringify([submission.type, seedLocked ? seed : null, rest])
}

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
  const ready = ref(false)
  let stopDraft: (() => void) | null = null

  /** Save the form as the user edits it (a quarter of a second after the last keystroke). */
  function keepDraft(): void {
    if (stopDraft) return
    let timer: ReturnType<typeof setTimeout> | null = null
    const save = () => {
      if (timer) clearTimeout(timer)
      timer = null
      writeDraft(form.toDraft())
    }
    const stopWatch = watch(
      () => form.toDraft(),
      () => {
        if (timer) clearTimeout(timer)
        timer = setTimeout(save, 250)
      },
      { deep: true },
    )
    // Leaving or reloading within that quarter second still keeps the last keystrokes.
    window.addEventListener('pagehide', save)
    save()
    stopDraft = () => {
      stopWatch()
      window.removeEventListener('pagehide', save)
      if (timer) save()
    }
  }
  onScopeDispose(() => stopDraft?.())
  // Requests sent lately, by key, with when (a refused one is forgotten: it cost nothing).
  const recent = new Map<string, number>()

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
    // A draft from before the reload first; a link's ?model= / ?prompt= then win over it.
    if (!draftRestored) {
      draftRestored = true
      const draft = readDraft()
      if (draft) form.restoreDraft(draft)
    }
    const current = catalog.model(form.modelId)
    const pick = fromQuery?.id ?? (current?.available ? current.id : catalog.defaultModel || catalog.available[0]?.id || '')
    form.selectModel(pick)
    const prompt = firstQueryValue(route.query.prompt)
    if (prompt) form.prompt = prompt
    ready.value = true
    keepDraft()
    void tasks.restoreSession().catch(() => undefined)
    void catalog.loadDurations().catch(() => undefined)
  }

  // A job just ended: the typical durations may have moved (the store throttles the reload).
  watch(
    () => tasks.activeCount,
    (now, before) => {
      if (now < before) void catalog.loadDurations().catch(() => undefined)
    },
  )

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
    const submission = form.buildSubmission()
    const key = submissionKey(submission, form.seedLocked)
    const now = Date.now()
    for (const [k, at] of recent) if (now - at > REPEAT_WINDOW_MS) recent.delete(k)
    const last = recent.get(key)
    if (last !== undefined && !(await confirmRepeat(Math.max(1, Math.round((now - last) / 1000))))) return
    recent.set(key, Date.now())
    try {
      await tasks.submit(submission.type, submission.body)
    } catch (error) {
      recent.delete(key)
      // the server's own message, in the UI's language (also kept on the card); the budget
      // notice then shows what is left
      handleError(error)
      if (error instanceof ApiError && error.code === 'budget_exceeded') void budget.loadSummary().catch(() => undefined)
    }
  }

  async function confirmRepeat(seconds: number): Promise<boolean> {
    try {
      await ElMessageBox.confirm(t('generate.repeat.message', { n: seconds }), t('generate.repeat.title'), {
        confirmButtonText: t('generate.repeat.confirm'),
        cancelButtonText: t('actions.cancel'),
        type: 'warning',
        customClass: 'repeat-confirm',
      })
      return true
    } catch {
      return false
    }
  }

  return { init, submit, ready }
}
