from app.models.base import Base
from app.models.layers import ImageLayer
from app.models.library import Collection, CollectionItem, PromptTemplate, ReferenceSet, ReferenceSetImage
from app.models.ratelimit import RateCounter
from app.models.session import LoginSession
from app.models.task import AppSetting, Image, Task, Upload
from app.models.user import ApiToken, Role, UploadOwner, User
from app.models.webhook import Webhook, WebhookDelivery

__all__ = [
    "ApiToken", "AppSetting", "Base", "Collection", "CollectionItem", "Image", "ImageLayer", "LoginSession",
    "PromptTemplate", "RateCounter", "ReferenceSet", "ReferenceSetImage", "Role", "Task", "Upload", "UploadOwner",
    "User", "Webhook", "WebhookDelivery",
]
