/**
 * The only way the UI talks to the backend: a thin fetch wrapper plus one function per endpoint.
 *
 * Every non-2xx answer becomes an `ApiError` carrying the server's `{error: {code, message}}`,
 * so callers and `handleError` deal with one shape. `Accept-Language` follows the UI language,
 * and a 401 anywhere (except the auth endpoints themselves) calls `onUnauthorized`.
 */
import type {
  AuthStatus,
  Collection,
  CollectionItemsResult,
  PromptOrder,
  PromptTemplate,
  PromptUse,
  ReferenceSet,
  TemplateIn,
  Budgets,
  BudgetsUpdate,
  EditOperation,
  EditRequest,
  GenerateRequest,
  Health,
  HealthStatus,
  HistoryPage,
  HistoryQuery,
  Image2ImageRequest,
  InspectResult,
  LayeredSet,
  Lineage,
  LimitsReport,
  ModelCatalog,
  ModelDurations,
  PriceList,
  Task,
  TaskCreated,
  TaskList,
  TaskType,
  TokenCreated,
  TokenList,
  Upload,
  UsageQuery,
  UsageReport,
  UsageSummary,
  UserCreate,
  UserList,
  UserPublic,
  UserUpdate,
  WebhookCreated,
  WebhookDelivery,
  WebhookIn,
  WebhookPublic,
} from './types'

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly details: unknown

  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.details = details
  }
}

/** Codes the client makes up itself, for failures that never reached the API. */
export const NETWORK_ERROR = 'network_error'
export const BAD_RESPONSE = 'bad_response'

export interface ClientOptions {
  fetch?: typeof fetch
  baseUrl?: string
  getLocale?: () => string
  onUnauthorized?: () => void
}

type Query = Record<string, string | number | boolean | undefined | null>

interface RequestOptions {
  query?: Query
  json?: unknown
  form?: FormData
  headers?: Record<string, string>
  signal?: AbortSignal
  /** Return the raw Response body as a Blob instead of parsing JSON. */
  blob?: boolean
  /** Do not call onUnauthorized on 401 (login and status checks). */
  quiet401?: boolean
  /** Non-2xx statuses whose body is still the answer (`/health` is 503 when unhealthy). */
  alsoOk?: number[]
}

export function buildQuery(query: Query | undefined): string {
  if (!query) return ''
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue
    params.set(key, String(value))
  }
  const text = params.toString()
  return text ? `?${text}` : ''
}

/** Turn any failed Response into an ApiError, whatever its body looks like. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let body: unknown = null
  try {
    body = await response.json()
  } catch {
    // not JSON (a proxy error page, say); fall through to the generic message
  }
  const err = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error
  if (err && typeof err.code === 'string' && typeof err.message === 'string') {
    return new ApiError(response.status, err.code, err.message, err.details)
  }
  // FastAPI's own {"detail": ...} shape, in case a route escapes the error handler.
  const detail = (body as { detail?: unknown } | null)?.detail
  const message = typeof detail === 'string' ? detail : response.statusText || `HTTP ${response.status}`
  return new ApiError(response.status, statusCode(response.status), message, detail)
}

function statusCode(status: number): string {
  switch (status) {
    case 400:
    case 422:
      return 'invalid_request'
    case 401:
      return 'unauthorized'
    case 402:
      return 'budget_exceeded'
    case 404:
      return 'not_found'
    case 409:
      return 'conflict'
    case 413:
      return 'payload_too_large'
    case 415:
      return 'unsupported_media_type'
    case 429:
      return 'rate_limited'
    case 502:
    case 504:
      return 'upstream_error'
    case 507:
      return 'insufficient_storage'
    default:
      return 'internal_error'
  }
}

export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException
    ? error.name === 'AbortError'
    : (error as { name?: string } | null)?.name === 'AbortError'
}

export function createApiClient(options: ClientOptions = {}) {
  const settings = {
    fetch: options.fetch,
    baseUrl: options.baseUrl ?? '',
    getLocale: options.getLocale ?? (() => 'zh-CN'),
    onUnauthorized: options.onUnauthorized ?? (() => undefined),
  }

  function configure(next: Omit<ClientOptions, 'fetch' | 'baseUrl'>): void {
    if (next.getLocale) settings.getLocale = next.getLocale
    if (next.onUnauthorized) settings.onUnauthorized = next.onUnauthorized
  }

  async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = {
      Accept: opts.blob ? '*/*' : 'application/json',
      'Accept-Language': settings.getLocale(),
      ...opts.headers,
    }
    let body: BodyInit | undefined
    if (opts.form) {
      body = opts.form
    } else if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(opts.json)
    }
    const doFetch = settings.fetch ?? globalThis.fetch.bind(globalThis)
    let response: Response
    try {
      response = await doFetch(settings.baseUrl + path + buildQuery(opts.query), {
        method,
        headers,
        body,
        signal: opts.signal,
        credentials: 'same-origin',
      })
    } catch (error) {
      if (isAbortError(error)) throw error
      throw new ApiError(0, NETWORK_ERROR, error instanceof Error ? error.message : String(error))
    }
    if (!response.ok && !opts.alsoOk?.includes(response.status)) {
      const error = await errorFromResponse(response)
      if (response.status === 401 && !opts.quiet401) settings.onUnauthorized()
      throw error
    }
    if (opts.blob) return (await response.blob()) as T
    if (response.status === 204) return undefined as T
    const text = await response.text()
    if (!text) return undefined as T
    try {
      return JSON.parse(text) as T
    } catch {
      throw new ApiError(response.status, BAD_RESPONSE, 'The server sent a response that is not JSON.')
    }
  }

  function fileForm(file: Blob, name = 'image'): FormData {
    const form = new FormData()
    form.append('file', file, file instanceof File ? file.name : name)
    return form
  }

  return {
    configure,
    request,
    /** The detail, or only the status when the server has a password and this browser no session. */
    health: (signal?: AbortSignal) => request<Health | HealthStatus>('GET', '/health', { signal, alsoOk: [503] }),
    models: () => request<ModelCatalog>('GET', '/api/v1/models'),
    limits: (signal?: AbortSignal) => request<LimitsReport>('GET', '/api/v1/limits', { signal }),
    modelDurations: () => request<ModelDurations>('GET', '/api/v1/models/durations'),
    generate: (type: TaskType, body: GenerateRequest | Image2ImageRequest, idempotencyKey: string) =>
      request<TaskCreated>('POST', `/api/v1/generate/${type}`, {
        json: body,
        headers: { 'Idempotency-Key': idempotencyKey },
      }),
    /** Inpaint, erase, outpaint or upscale an image from history or an upload: a task like a generation. */
    edit: (operation: EditOperation, body: EditRequest, idempotencyKey: string) =>
      request<TaskCreated>('POST', `/api/v1/edit/${operation}`, {
        json: body,
        headers: { 'Idempotency-Key': idempotencyKey },
      }),
    /** What an edit result was made from: its parent first, back to the first image. */
    lineage: (imageId: string, signal?: AbortSignal) =>
      request<Lineage>('GET', `/api/v1/images/${encodeURIComponent(imageId)}/lineage`, { signal }),
    upload: (file: Blob, signal?: AbortSignal) =>
      request<Upload>('POST', '/api/v1/uploads', { form: fileForm(file), signal }),
    task: (id: string, signal?: AbortSignal) =>
      request<Task>('GET', `/api/v1/tasks/${encodeURIComponent(id)}`, { signal }),
    taskEventsUrl: (id: string) => `${settings.baseUrl}/api/v1/tasks/${encodeURIComponent(id)}/events`,
    eventsUrl: () => `${settings.baseUrl}/api/v1/events`,
    tasks: (limit = 50, signal?: AbortSignal) =>
      request<TaskList>('GET', '/api/v1/tasks', { query: { limit }, signal }),
    cancelTask: (id: string) => request<Task | undefined>('POST', `/api/v1/tasks/${encodeURIComponent(id)}/cancel`),
    retryTask: (id: string) => request<TaskCreated>('POST', `/api/v1/tasks/${encodeURIComponent(id)}/retry`),
    history: (query: HistoryQuery, signal?: AbortSignal) =>
      request<HistoryPage>('GET', '/api/v1/history', { query: { ...query }, signal }),
    setFavorite: (id: string, favorite: boolean) =>
      request<Task>('PATCH', `/api/v1/history/${encodeURIComponent(id)}`, { json: { favorite } }),
    /** Favourite and/or rating (1-5; null clears it). */
    markHistory: (id: string, marks: { favorite?: boolean; rating?: number | null }) =>
      request<Task>('PATCH', `/api/v1/history/${encodeURIComponent(id)}`, { json: marks }),
    collections: (signal?: AbortSignal) => request<{ items: Collection[] }>('GET', '/api/v1/collections', { signal }),
    createCollection: (name: string) => request<Collection>('POST', '/api/v1/collections', { json: { name } }),
    renameCollection: (id: string, name: string) =>
      request<Collection>('PATCH', `/api/v1/collections/${encodeURIComponent(id)}`, { json: { name } }),
    deleteCollection: (id: string) => request<void>('DELETE', `/api/v1/collections/${encodeURIComponent(id)}`),
    addToCollection: (id: string, taskIds: string[]) =>
      request<CollectionItemsResult>('POST', `/api/v1/collections/${encodeURIComponent(id)}/items`, {
        json: { task_ids: taskIds },
      }),
    removeFromCollection: (id: string, taskIds: string[]) =>
      request<CollectionItemsResult>('POST', `/api/v1/collections/${encodeURIComponent(id)}/items/remove`, {
        json: { task_ids: taskIds },
      }),
    downloadCollection: (id: string) =>
      request<Blob>('GET', `/api/v1/collections/${encodeURIComponent(id)}/download`, { blob: true }),
    promptHistory: (query: { q?: string; order?: PromptOrder; limit?: number }, signal?: AbortSignal) =>
      request<{ items: PromptUse[] }>('GET', '/api/v1/prompts/history', { query, signal }),
    templates: () => request<{ items: PromptTemplate[] }>('GET', '/api/v1/prompts/templates'),
    createTemplate: (body: TemplateIn) => request<PromptTemplate>('POST', '/api/v1/prompts/templates', { json: body }),
    updateTemplate: (id: string, body: TemplateIn) =>
      request<PromptTemplate>('PUT', `/api/v1/prompts/templates/${encodeURIComponent(id)}`, { json: body }),
    deleteTemplate: (id: string) => request<void>('DELETE', `/api/v1/prompts/templates/${encodeURIComponent(id)}`),
    referenceSets: () => request<{ items: ReferenceSet[] }>('GET', '/api/v1/reference-sets'),
    createReferenceSet: (name: string, uploadIds: string[]) =>
      request<ReferenceSet>('POST', '/api/v1/reference-sets', { json: { name, upload_ids: uploadIds } }),
    deleteReferenceSet: (id: string) => request<void>('DELETE', `/api/v1/reference-sets/${encodeURIComponent(id)}`),
    useReferenceSet: (id: string, model: string, already: number) =>
      request<ReferenceSet>('POST', `/api/v1/reference-sets/${encodeURIComponent(id)}/use`, {
        json: { model, already },
      }),
    deleteHistory: (id: string) => request<void>('DELETE', `/api/v1/history/${encodeURIComponent(id)}`),
    downloadZip: (ids: string[]) =>
      request<Blob>('POST', '/api/v1/history/download', { json: { ids }, blob: true }),
    inspect: (file: Blob) => request<InspectResult>('POST', '/api/v1/images/inspect', { form: fileForm(file) }),
    prices: () => request<PriceList>('GET', '/api/v1/usage/prices'),
    usage: (query: UsageQuery, signal?: AbortSignal) =>
      request<UsageReport>('GET', '/api/v1/usage', { query: { ...query, format: 'json' }, signal }),
    /** A link for the browser to download (the CSV is the server's, as it is). */
    usageCsvUrl: (query: Omit<UsageQuery, 'format'>) =>
      `${settings.baseUrl}/api/v1/usage${buildQuery({ ...query, format: 'csv' })}`,
    usageSummary: (signal?: AbortSignal) => request<UsageSummary>('GET', '/api/v1/usage/summary', { signal }),
    budgets: () => request<Budgets>('GET', '/api/v1/usage/budgets'),
    setBudgets: (body: BudgetsUpdate) => request<Budgets>('PUT', '/api/v1/usage/budgets', { json: body }),
    webhooks: () => request<{ items: WebhookPublic[] }>('GET', '/api/v1/webhooks'),
    createWebhook: (body: WebhookIn) => request<WebhookCreated>('POST', '/api/v1/webhooks', { json: body }),
    setWebhookEnabled: (id: string, enabled: boolean) =>
      request<WebhookPublic>('PATCH', `/api/v1/webhooks/${encodeURIComponent(id)}`, { json: { enabled } }),
    deleteWebhook: (id: string) => request<void>('DELETE', `/api/v1/webhooks/${encodeURIComponent(id)}`),
    webhookDeliveries: (id: string) =>
      request<{ items: WebhookDelivery[] }>('GET', `/api/v1/webhooks/${encodeURIComponent(id)}/deliveries`),
    authStatus: () => request<AuthStatus>('GET', '/api/v1/auth/status', { quiet401: true }),
    /** Without a user name: the admin password alone (the single-password install). */
    login: (password: string, username?: string) =>
      request<void>('POST', '/api/v1/auth/login', {
        json: username ? { username, password } : { password },
        quiet401: true,
      }),
    /** A stored image with its transparent layers (none for an image that was not layered). */
    layers: (imageId: string) => request<LayeredSet>('GET', `/api/v1/images/${encodeURIComponent(imageId)}/layers`),
    users: () => request<UserList>('GET', '/api/v1/users'),
    createUser: (body: UserCreate) => request<UserPublic>('POST', '/api/v1/users', { json: body }),
    updateUser: (id: string, body: UserUpdate) =>
      request<UserPublic>('PATCH', `/api/v1/users/${encodeURIComponent(id)}`, { json: body }),
    memberBudgets: (id: string) => request<Budgets>('GET', `/api/v1/users/${encodeURIComponent(id)}/budgets`),
    setMemberBudgets: (id: string, body: BudgetsUpdate) =>
      request<Budgets>('PUT', `/api/v1/users/${encodeURIComponent(id)}/budgets`, { json: body }),
    tokens: () => request<TokenList>('GET', '/api/v1/tokens'),
    /** The answer holds the token itself: the only time it is ever shown. */
    createToken: (name: string) => request<TokenCreated>('POST', '/api/v1/tokens', { json: { name } }),
    revokeToken: (id: string) => request<void>('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`),
    logout: () => request<void>('POST', '/api/v1/auth/logout', { quiet401: true }),
    /** Ends every session, this one included ("sign out everywhere"). */
    logoutAll: () => request<void>('POST', '/api/v1/auth/logout-all'),
  }
}

export type ApiClient = ReturnType<typeof createApiClient>

/** The app's client; `main.ts` wires the locale and the 401 handler into it. */
export const api: ApiClient = createApiClient()
