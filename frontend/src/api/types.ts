/**
 * API types used by the UI.
 *
 * Everything the backend describes in its OpenAPI schema is an alias of the GENERATED types
 * (`schema.d.ts`, made by scripts/generate-client.sh from `create_app().openapi()`; never edit it
 * by hand).
 */
import type { components, operations } from './schema'

type Schemas = components['schemas']

export type Task = Schemas['TaskPublic']
export type TaskType = Schemas['TaskType']
export type TaskStatus = Schemas['TaskStatus']
export type TaskOutput = Schemas['OutputPublic']
export type LayeredSet = Schemas['LayeredSetPublic']
export type Layer = Schemas['LayerPublic']
export type TaskFailure = Schemas['FailurePublic']
export type TaskError = Schemas['TaskError']
export type TaskCreated = Schemas['TaskCreated']
export type TaskList = Schemas['TaskList']
export type HistoryPage = Schemas['HistoryPage']
export type HistoryQuery = NonNullable<operations['history-list_history']['parameters']['query']>
export type Health = Schemas['Health']
export type LimitsReport = Schemas['LimitsReport']
export type ModelLimit = Schemas['ModelLimitPublic']
/** What /health says without a session when the server has a password. */
export type HealthStatus = Schemas['HealthStatus']
export type HealthWarning = Schemas['HealthWarning']
export type ProviderHealth = Schemas['ProviderHealth']
export type Upload = Schemas['UploadPublic']
export type InspectResult = Schemas['InspectResult']
export type AuthStatus = Schemas['AuthStatus']
export type GroupOptions = Schemas['GroupOptions']
export type GenerateRequest = Schemas['GenerateIn']
export type Image2ImageRequest = Schemas['Image2ImageIn']
export type OptimizePrompt = NonNullable<GenerateRequest['optimize_prompt']>
export type ApiErrorBody = Schemas['ErrorResponse']

// ---- model catalogue ----
export type ModelCatalog = Schemas['ModelCatalog']
export type ModelDurations = Schemas['ModelDurations']
export type ModelPublic = Schemas['ModelPublic']
export type ModelParams = Schemas['ParamsPublic']
export type SizeRules = Schemas['SizeRulesPublic']
export type SizePreset = Schemas['SizePresetPublic']
export type ReferenceRules = Schemas['ReferenceRulesPublic']
export type NumberRange = Schemas['RangePublic']
export type Localized = Schemas['Localized']

// ---- spend ----
export type PriceList = Schemas['PriceList']
export type Price = Schemas['PricePublic']
export type PriceUnit = Price['unit']
export type UsageReport = Schemas['UsageReport']
export type UsageRow = Schemas['UsageRowPublic']
export type UsageQuery = NonNullable<operations['usage-usage']['parameters']['query']>
export type UsageGroupBy = NonNullable<UsageQuery['group_by']>
export type UsageSummary = Schemas['UsageSummary']
export type WebhookPublic = Schemas['WebhookPublic']
export type WebhookCreated = Schemas['WebhookCreated']
export type WebhookIn = Schemas['WebhookIn']
export type WebhookEvent = NonNullable<WebhookIn['events']>[number]
export type WebhookDelivery = Schemas['DeliveryPublic']
export type BudgetState = Schemas['BudgetState']
export type BudgetName = BudgetState['name']
export type Budgets = Schemas['BudgetsPublic']
export type BudgetsUpdate = Schemas['BudgetsIn']

// ---- accounts and tokens ----
export type Me = Schemas['Me']
export type Role = Schemas['Role']
export type UserPublic = Schemas['UserPublic']
export type UserList = Schemas['UserList']
export type UserCreate = Schemas['UserCreate']
export type UserUpdate = Schemas['UserUpdate']
export type TokenPublic = Schemas['TokenPublic']
export type TokenList = Schemas['TokenList']
export type TokenCreated = Schemas['TokenCreated']

// ---- edits (issue 17: inpaint, erase, outpaint, upscale) ----
export type EditRules = Schemas['EditOperationPublic']
export type EditOperation = EditRules['operation']
export type EditRequest = Schemas['EditIn']
export type Lineage = Schemas['LineagePublic']
export type LineageStep = Schemas['LineageStep']
// ---- library: collections, prompts, reference sets ----
export type Collection = Schemas['CollectionPublic']
export type CollectionItemsResult = Schemas['CollectionItemsResult']
export type PromptUse = Schemas['PromptUse']
export type PromptOrder = NonNullable<NonNullable<operations['prompts-prompt_history']['parameters']['query']>['order']>
export type PromptTemplate = Schemas['TemplatePublic']
export type TemplateIn = Schemas['TemplateIn']
export type TemplateKind = TemplateIn['kind']
export type ReferenceSet = Schemas['ReferenceSetPublic']
export type ReferenceSetImage = Schemas['ReferenceImagePublic']
