/**
 * What the form may offer for a model, derived from its catalogue entry (backend:
 * `Catalog._public`) in ONE place, so a change in the catalogue's JSON touches only this file.
 */
import type { Localized, ModelPublic, NumberRange, ReferenceRules, SizePreset } from '@/api/types'
import type { SizeLimits } from './size'

export type OptimizeChoice = 'off' | 'on' | 'standard' | 'fast'

/** Uploads are refused above this size by the server's default (MAX_UPLOAD_MB). */
export const DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024

export interface Capabilities {
  text2image: boolean
  image2image: boolean
  group: boolean
  refMin: number
  refMax: number
  refRules: ReferenceRules
  /** The per-file limit checked before an upload. */
  refMaxBytes: number
  sizeLevels: string[]
  presets: SizePreset[]
  customSize: boolean
  limits: SizeLimits
  defaultSize: string
  seed: boolean
  guidance: NumberRange | null
  strength: NumberRange | null
  negativePrompt: boolean
  watermark: boolean
  /** Empty when the model has no prompt optimisation. */
  optimizeChoices: OptimizeChoice[]
  numImagesMax: number
  /** Formats the user may pick; empty = fixed by the upstream (JPEG). */
  outputFormats: Array<'jpeg' | 'png'>
  /** The model can search the web before drawing (Seedream 5.0 Lite); searches are billed. */
  webSearch: boolean
  /** The model can return each image as a layered set (base + transparent layers). */
  layers: boolean
  groupMax: number | null
  /** Cap on references + group images, when the model has one. */
  groupMaxTotal: number | null
  promptMaxLength: number
}

export function capabilitiesOf(model: ModelPublic): Capabilities {
  const size = model.size
  const params = model.params
  const modes = new Set(model.modes)
  const optimize = params.optimize_prompt ?? []
  const named = optimize.filter((m): m is 'standard' | 'fast' => m === 'standard' || m === 'fast')
  const optimizeChoices: OptimizeChoice[] =
    optimize.length === 0 ? [] : named.length > 1 ? ['off', ...named] : ['off', 'on']
  const image2image = modes.has('image2image')
  const maxBytes = model.references.max_bytes
  return {
    text2image: modes.has('text2image'),
    image2image,
    group: modes.has('group') && params.group !== null && params.group.max_images > 1,
    refMin: image2image ? Math.max(1, model.references.min) : 0,
    refMax: image2image ? model.references.max : 0,
    refRules: model.references,
    refMaxBytes: maxBytes === null ? DEFAULT_MAX_UPLOAD_BYTES : Math.min(maxBytes, DEFAULT_MAX_UPLOAD_BYTES),
    sizeLevels: size.levels,
    presets: size.presets,
    customSize: size.allow_custom,
    limits: {
      minPixels: size.min_pixels,
      maxPixels: size.max_pixels,
      minSide: size.min_side,
      maxSide: size.max_side,
      minAspect: size.min_aspect,
      maxAspect: size.max_aspect,
    },
    defaultSize: size.default,
    seed: params.seed,
    guidance: params.guidance_scale,
    strength: params.strength,
    negativePrompt: params.negative_prompt,
    watermark: params.watermark,
    optimizeChoices,
    numImagesMax: Math.max(1, params.num_images_max),
    outputFormats: params.output_formats ?? [],
    webSearch: params.web_search ?? false,
    layers: params.layer_decomposition ?? false,
    groupMax: params.group?.max_images ?? null,
    groupMaxTotal: params.group?.max_total ?? null,
    promptMaxLength: model.prompt_max_length,
  }
}

export function localized(text: Localized | null | undefined, locale: string): string {
  if (!text) return ''
  return (locale.startsWith('zh') ? text.zh : text.en) || text.en || text.zh
}

export function modelLabel(model: ModelPublic, locale: string): string {
  return localized(model.label, locale) || model.id
}

/** Retired upstream: still works, but the user should move on before it is switched off. */
export function isRetired(model: Pick<ModelPublic, 'status'>): boolean {
  return model.status === 'retired'
}
