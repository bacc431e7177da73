/**
 * The Generate form: its values, how they adapt when the model changes, the checks made before
 * submitting, the request body they become, and "remix" (a past task's parameters loaded back).
 */
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { GenerateRequest, Image2ImageRequest, ModelPublic, Task, TaskType } from '@/api/types'
import { capabilitiesOf, type Capabilities, type OptimizeChoice } from '@/utils/capabilities'
import type { CostRequest } from '@/utils/cost'
import { checkSize, formatSize, parseSize, type SizeProblem } from '@/utils/size'
import type { Draft } from '@/utils/draft'
import { MAX_SEED, randomSeed } from '@/utils/seed'
import { useCatalogStore } from './catalog'
import { useReferencesStore } from './references'

export const CUSTOM_SIZE = 'custom'

export type OutputMode = 'single' | 'group'

/** A problem that blocks submitting; `key` is an i18n key. */
export interface FormIssue {
  field: 'prompt' | 'size' | 'references' | 'model' | 'group'
  key: string
  params?: Record<string, string | number>
}

export interface Submission {
  type: TaskType
  body: GenerateRequest | Image2ImageRequest
}

/** The size choice a model starts with: its default level, a matching preset, or custom W×H. */
export function defaultSizeChoice(caps: Capabilities): { choice: string; width: number | null; height: number | null } {
  const level = caps.sizeLevels.find((l) => l.toLowerCase() === caps.defaultSize.toLowerCase())
  if (level) return { choice: level, width: null, height: null }
  const dims = parseSize(caps.defaultSize)
  if (dims) {
    const text = formatSize(dims.width, dims.height)
    if (caps.presets.some((p) => formatSize(p.width, p.height) === text)) {
      return { choice: text, width: dims.width, height: dims.height }
    }
    if (caps.customSize) return { choice: CUSTOM_SIZE, width: dims.width, height: dims.height }
  }
  const first = caps.sizeLevels[0] ?? (caps.presets[0] ? formatSize(caps.presets[0].width, caps.presets[0].height) : CUSTOM_SIZE)
  return { choice: first, width: null, height: null }
}

export function isSizeChoiceValid(choice: string, caps: Capabilities): boolean {
  if (choice === CUSTOM_SIZE) return caps.customSize
  if (caps.sizeLevels.includes(choice)) return true
  return caps.presets.some((p) => formatSize(p.width, p.height) === choice)
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value))
}

function num(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value)
  return null
}

export const useGenerateFormStore = defineStore('generateForm', () => {
  const catalog = useCatalogStore()

  const modelId = ref('')
  const prompt = ref('')
  const negativePrompt = ref('')
  // Empty until a model is chosen, so the first model's default size applies.
  const sizeChoice = ref<string>('')
  const customWidth = ref<number | null>(1024)
  const customHeight = ref<number | null>(1024)
  const seed = ref<number | null>(null)
  const seedLocked = ref(false)
  const guidance = ref<number | null>(null)
  const strength = ref<number | null>(null)
  const watermark = ref(false)
  const optimize = ref<OptimizeChoice>('off')
  // '' = the model's default format (JPEG).
  const outputFormat = ref<'' | 'jpeg' | 'png'>('')
  const webSearch = ref(false)
  const layers = ref(false)
  const outputMode = ref<OutputMode>('single')
  const numImages = ref(1)
  const groupMax = ref(4)
  const refs = useReferencesStore()
  const references = computed(() => refs.items)

  const model = computed<ModelPublic | undefined>(() => catalog.model(modelId.value))
  const caps = computed<Capabilities | null>(() => (model.value ? capabilitiesOf(model.value) : null))

  const sizeProblem = computed<SizeProblem | null>(() => {
    if (!caps.value || sizeChoice.value !== CUSTOM_SIZE) return null
    return checkSize(customWidth.value, customHeight.value, caps.value.limits)
  })

  const readyReferences = computed(() => references.value.filter((r) => r.status === 'ready' && r.uploadId))
  const uploading = computed(() => references.value.some((r) => r.status === 'uploading'))

  /** Which endpoint the current form goes to. */
  const mode = computed<TaskType>(() => {
    const c = caps.value
    if (!c) return 'text2image'
    if (!c.text2image) return 'image2image'
    return c.image2image && references.value.length > 0 ? 'image2image' : 'text2image'
  })

  const issues = computed<FormIssue[]>(() => {
    const out: FormIssue[] = []
    const c = caps.value
    const m = model.value
    if (!m || !c) return [{ field: 'model', key: 'generate.issues.noModel' }]
    if (!m.available) out.push({ field: 'model', key: 'generate.issues.unavailable' })
    const text = prompt.value.trim()
    if (!text) out.push({ field: 'prompt', key: 'generate.issues.promptRequired' })
    else if (text.length > c.promptMaxLength) {
      out.push({ field: 'prompt', key: 'generate.issues.promptTooLong', params: { max: c.promptMaxLength } })
    }
    if (sizeProblem.value) out.push({ field: 'size', key: sizeProblem.value.key, params: sizeProblem.value.params })
    const count = references.value.length
    if (mode.value === 'image2image') {
      if (count < c.refMin) out.push({ field: 'references', key: 'generate.issues.needReferences', params: { min: c.refMin } })
      if (count > c.refMax) out.push({ field: 'references', key: 'generate.issues.tooManyReferences', params: { max: c.refMax } })
    } else if (count > 0 && !c.image2image) {
      out.push({ field: 'references', key: 'generate.issues.noReferences' })
    }
    if (uploading.value) out.push({ field: 'references', key: 'generate.issues.uploading' })
    if (references.value.some((r) => r.status === 'error')) {
      out.push({ field: 'references', key: 'generate.issues.referenceFailed' })
    }
    if (outputMode.value === 'group' && c.group && c.groupMaxTotal !== null && count + groupMax.value > c.groupMaxTotal) {
      out.push({ field: 'group', key: 'generate.issues.groupTotal', params: { max: c.groupMaxTotal } })
    }
    return out
  })

  const canSubmit = computed(() => issues.value.length === 0)

  /** What the current form would be billed for (the same choice of group or count as buildSubmission). */
  const costRequest = computed<CostRequest | null>(() => {
    const c = caps.value
    const m = model.value
    if (!c || !m) return null
    return outputMode.value === 'group' && c.group
      ? { model: m.id, images: groupMax.value, group: true }
      : { model: m.id, images: numImages.value, group: false }
  })

  /** Keep what still fits the newly chosen model; reset the rest to the model's defaults. */
  function adaptToModel(): void {
    const c = caps.value
    if (!c) return
    if (!isSizeChoiceValid(sizeChoice.value, c)) {
      const d = defaultSizeChoice(c)
      sizeChoice.value = d.choice
      if (d.width && d.height) {
        customWidth.value = d.width
        customHeight.value = d.height
      }
    }
    const g = c.guidance
    if (!g) guidance.value = null
    else if (guidance.value === null || guidance.value < g.min || guidance.value > g.max) guidance.value = g.default
    const s = c.strength
    if (!s) strength.value = null
    else if (strength.value === null || strength.value < s.min || strength.value > s.max) strength.value = s.default
    if (!c.optimizeChoices.includes(optimize.value)) optimize.value = 'off'
    if (!c.watermark) watermark.value = false
    if (outputFormat.value && !c.outputFormats.includes(outputFormat.value)) outputFormat.value = ''
    if (!c.webSearch) webSearch.value = false
    if (!c.layers) layers.value = false
    numImages.value = clamp(numImages.value, 1, c.numImagesMax)
    if (!c.group) outputMode.value = 'single'
    if (c.groupMax !== null) groupMax.value = clamp(groupMax.value, 2, c.groupMax)
  }

  function selectModel(id: string): void {
    modelId.value = id
    adaptToModel()
  }

  function selectSize(choice: string): void {
    sizeChoice.value = choice
    const dims = parseSize(choice)
    if (dims) {
      customWidth.value = dims.width
      customHeight.value = dims.height
    }
  }

  function swapSize(): void {
    const w = customWidth.value
    customWidth.value = customHeight.value
    customHeight.value = w
  }

  function newSeed(): number {
    seed.value = randomSeed()
    return seed.value
  }

  /** The request for the current form; a fresh random seed unless the seed is locked. */
  function buildSubmission(): Submission {
    const c = caps.value
    const m = model.value
    if (!c || !m) throw new Error('no model')
    const body: Image2ImageRequest = { model: m.id, prompt: prompt.value.trim(), images: [] }
    if (c.negativePrompt && negativePrompt.value.trim()) body.negative_prompt = negativePrompt.value.trim()
    if (sizeChoice.value === CUSTOM_SIZE) {
      body.width = customWidth.value
      body.height = customHeight.value
    } else {
      body.size = sizeChoice.value
    }
    if (c.seed) {
      if (!seedLocked.value || seed.value === null) newSeed()
      body.seed = seed.value
    }
    if (c.guidance && guidance.value !== null) body.guidance_scale = guidance.value
    if (c.watermark) body.watermark = watermark.value
    if (optimize.value !== 'off' && c.optimizeChoices.includes(optimize.value)) {
      body.optimize_prompt = optimize.value === 'on' ? true : optimize.value
    }
    // Layers are transparent PNGs: a JPEG choice does not apply to a layered set.
    const layered = layers.value && c.layers && outputMode.value !== 'group'
    if (outputFormat.value && c.outputFormats.includes(outputFormat.value) && !(layered && outputFormat.value === 'jpeg')) {
      body.output_format = outputFormat.value
    }
    if (webSearch.value && c.webSearch) body.web_search = true
    if (layered) body.layer_decomposition = true
    if (outputMode.value === 'group' && c.group) body.group = { max_images: groupMax.value }
    else body.num_images = numImages.value
    const type = mode.value
    if (type === 'image2image') {
      body.images = readyReferences.value.map((r) => r.uploadId as string)
      if (c.strength && strength.value !== null) body.strength = strength.value
      return { type, body }
    }
    const { images: _images, ...text2image } = body
    void _images
    return { type, body: text2image }
  }

  /** Load a past task (or an inspected file's metadata) back into the form. */
  function remix(source: Pick<Task, 'model' | 'prompt'> & Partial<Pick<Task, 'negative_prompt' | 'parameters'>>): void {
    if (source.model && catalog.model(source.model)) modelId.value = source.model
    prompt.value = source.prompt ?? ''
    negativePrompt.value = source.negative_prompt ?? ''
    const p = source.parameters ?? {}
    const width = num(p.width)
    const height = num(p.height)
    const size = typeof p.size === 'string' ? p.size : null
    if (width && height) {
      customWidth.value = width
      customHeight.value = height
      const text = formatSize(width, height)
      sizeChoice.value = caps.value?.presets.some((x) => formatSize(x.width, x.height) === text) ? text : CUSTOM_SIZE
    } else if (size) {
      const dims = parseSize(size)
      if (dims) selectSize(formatSize(dims.width, dims.height))
      else sizeChoice.value = size
    }
    const seedValue = num(p.seed)
    if (seedValue !== null && seedValue >= 0 && seedValue <= MAX_SEED) {
      seed.value = seedValue
      seedLocked.value = true
    }
    const g = num(p.guidance_scale)
    if (g !== null) guidance.value = g
    const s = num(p.strength)
    if (s !== null) strength.value = s
    if (typeof p.watermark === 'boolean') watermark.value = p.watermark
    const opt = p.optimize_prompt
    const choices = caps.value?.optimizeChoices ?? []
    if (opt === 'standard' || opt === 'fast') optimize.value = choices.includes(opt) ? opt : 'on'
    else optimize.value = opt === true ? (choices.includes('on') ? 'on' : 'standard') : 'off'
    outputFormat.value = p.output_format === 'png' || p.output_format === 'jpeg' ? p.output_format : ''
    webSearch.value = p.web_search === true
    layers.value = p.layer_decomposition === true
    const groupSize = num(p.group_max_images) ?? num((p.group as { max_images?: unknown } | null)?.max_images)
    if (groupSize) {
      outputMode.value = 'group'
      groupMax.value = groupSize
    } else {
      outputMode.value = 'single'
      numImages.value = num(p.num_images) ?? 1
    }
    adaptToModel()
    // Image-to-image tasks record their references as upload ids; reuse them when we can.
    const used = p.references ?? p.images
    if (Array.isArray(used) && used.every((x): x is string => typeof x === 'string' && !x.startsWith('data:'))) {
      if (used.length) refs.addUploaded(used, caps.value)
      else refs.clear()
    }
  }

  /** Everything a reload must not lose (see utils/draft). */
  function toDraft(): Draft {
    return {
      modelId: modelId.value,
      prompt: prompt.value,
      negativePrompt: negativePrompt.value,
      sizeChoice: sizeChoice.value,
      customWidth: customWidth.value,
      customHeight: customHeight.value,
      seed: seed.value,
      seedLocked: seedLocked.value,
      guidance: guidance.value,
      strength: strength.value,
      watermark: watermark.value,
      optimize: optimize.value,
      outputMode: outputMode.value,
      numImages: numImages.value,
      groupMax: groupMax.value,
      references: refs.forDraft(),
    }
  }

  /** Bring a saved draft back; what no longer fits its model is then adapted as on a model change. */
  function restoreDraft(draft: Partial<Draft>): void {
    const saved = draft.modelId ? catalog.model(draft.modelId) : undefined
    if (saved?.available) modelId.value = saved.id
    if (draft.prompt !== undefined) prompt.value = draft.prompt
    if (draft.negativePrompt !== undefined) negativePrompt.value = draft.negativePrompt
    if (draft.sizeChoice !== undefined) sizeChoice.value = draft.sizeChoice
    if (draft.customWidth !== undefined) customWidth.value = draft.customWidth
    if (draft.customHeight !== undefined) customHeight.value = draft.customHeight
    if (draft.seed !== undefined) seed.value = draft.seed
    if (draft.seedLocked !== undefined) seedLocked.value = draft.seedLocked && draft.seed !== null
    if (draft.guidance !== undefined) guidance.value = draft.guidance
    if (draft.strength !== undefined) strength.value = draft.strength
    if (draft.watermark !== undefined) watermark.value = draft.watermark
    if (draft.optimize !== undefined) optimize.value = draft.optimize
    if (draft.outputMode !== undefined) outputMode.value = draft.outputMode
    if (draft.numImages !== undefined) numImages.value = draft.numImages
    if (draft.groupMax !== undefined) groupMax.value = draft.groupMax
    adaptToModel()
    if (draft.references?.length) refs.restore(draft.references, caps.value)
  }

  return {
    toDraft,
    restoreDraft,
    modelId,
    prompt,
    negativePrompt,
    sizeChoice,
    customWidth,
    customHeight,
    seed,
    seedLocked,
    guidance,
    strength,
    watermark,
    optimize,
    outputFormat,
    webSearch,
    layers,
    outputMode,
    numImages,
    groupMax,
    references,
    model,
    caps,
    sizeProblem,
    readyReferences,
    uploading,
    mode,
    issues,
    canSubmit,
    costRequest,
    adaptToModel,
    selectModel,
    selectSize,
    swapSize,
    newSeed,
    buildSubmission,
    remix,
  }
})
