/**
 * What a generation costs: the estimate shown before it starts (from the price list, the same rule
 * as the server's `UsageService.estimate`) and the figure a task carries once it ran.
 */
import type { Price, PriceList, PriceUnit, Task } from '@/api/types'
import { fromMicro, toMicro } from './money'

export interface CostRequest {
  model: string
  /** Images asked for: num_images, or a group's maximum. */
  images: number
  /** A group is one request that may make up to `images` pictures. */
  group: boolean
}

export interface Estimate {
  unit: PriceUnit
  unitPriceCny: number
  /** Billing units counted: images, or calls for a per-call model. */
  units: number
  /** The most it may cost (a group at its maximum size). */
  costMaxCny: number
  /** The actual figure may be lower: a group may make fewer images than its maximum. */
  upTo: boolean
  /** False: the unit price is an estimate, not confirmed from Volcengine's price list. */
  confirmed: boolean
  free: boolean
}

/** The model's price, or the list's default for a model it does not name (as the server counts it). */
export function priceFor(prices: PriceList, model: string): Price {
  return prices.models[model] ?? prices.default
}

export function estimateCost(prices: PriceList, request: CostRequest): Estimate {
  const price = priceFor(prices, request.model)
  const images = Math.max(1, Math.floor(request.images))
  // A call-billed model costs one unit per call: a group is one call, independent images one each.
  const units = price.unit === 'call' && request.group ? 1 : images
  const costMicro = units * toMicro(price.cny)
  return {
    unit: price.unit,
    unitPriceCny: price.cny,
    units,
    costMaxCny: fromMicro(costMicro),
    // A per-call group costs the same whatever it makes: an exact figure, not a maximum.
    upTo: request.group && price.unit === 'image' && images > 1 && costMicro > 0,
    confirmed: price.confirmed,
    free: costMicro === 0,
  }
}

export type TaskCost =
  | { state: 'free' }
  | { state: 'settled'; cny: number; images: number | null }
  | { state: 'upTo'; cny: number }
  | { state: 'unknown' }

/** A task's cost as it stands: settled once it ended, its reserved maximum while it runs. */
export function taskCost(task: Pick<Task, 'is_demo' | 'cost_cny' | 'cost_max_cny' | 'billed_images'>): TaskCost {
  if (task.cost_cny !== null) {
    return task.cost_cny === 0 && task.is_demo ? { state: 'free' } : { state: 'settled', cny: task.cost_cny, images: task.billed_images }
  }
  if (task.is_demo) return { state: 'free' }
  if (task.cost_max_cny > 0) return { state: 'upTo', cny: task.cost_max_cny }
  return { state: 'unknown' }
}
