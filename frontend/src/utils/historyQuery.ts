/**
 * History's search and filters in the URL (?q=&model=&type=&favorite=1&operation=&since=&until=
 * &collection=&rating=): a
 * filtered view survives a reload and can be bookmarked or shared.
 */
import type { LocationQuery, LocationQueryRaw } from 'vue-router'
import type { TaskType } from '@/api/types'
import type { GalleryFilters } from '@/composables/useGallery'
import { isEditOperation } from '@/utils/edit'

/** The task types History can filter on (an edit's result is type "edit"). */
const TYPES: readonly string[] = ['text2image', 'image2image', 'edit']
const DAY = /^\d{4}-\d{2}-\d{2}$/
const COLLECTION_ID = /^[0-9a-f]{32}$/

function one(value: LocationQuery[string] | undefined): string {
  const first = Array.isArray(value) ? value[0] : value
  return typeof first === 'string' ? first : ''
}

export function emptyFilters(): GalleryFilters {
  return { model: '', type: '', favorite: false, operation: '', since: '', until: '', collection: '', minRating: 0 }
}

export function readHistoryQuery(query: LocationQuery): { q: string; filters: GalleryFilters } {
  const type = one(query.type)
  const operation = one(query.operation)
  const since = one(query.since)
  const until = one(query.until)
  const collection = one(query.collection)
  const rating = Number(one(query.rating))
  return {
    q: one(query.q),
    filters: {
      model: one(query.model),
      type: TYPES.includes(type) ? (type as TaskType) : '',
      favorite: one(query.favorite) === '1',
      operation: isEditOperation(operation) ? operation : '',
      since: DAY.test(since) ? since : '',
      until: DAY.test(until) ? until : '',
      collection: COLLECTION_ID.test(collection) ? collection : '',
      minRating: Number.isInteger(rating) && rating >= 1 && rating <= 5 ? rating : 0,
    },
  }
}

/** Only what is set, so an unfiltered gallery is plain /history. */
export function writeHistoryQuery(q: string, filters: GalleryFilters): LocationQueryRaw {
  const out: LocationQueryRaw = {}
  if (q.trim()) out.q = q.trim()
  if (filters.model) out.model = filters.model
  if (filters.type) out.type = filters.type
  if (filters.favorite) out.favorite = '1'
  if (filters.operation) out.operation = filters.operation
  if (filters.since) out.since = filters.since
  if (filters.until) out.until = filters.until
  if (filters.collection) out.collection = filters.collection
  if (filters.minRating) out.rating = String(filters.minRating)
  return out
}

export function isFiltered(q: string, filters: GalleryFilters): boolean {
  return Object.keys(writeHistoryQuery(q, filters)).length > 0
}
