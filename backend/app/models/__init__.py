from app.models.base import Base
from app.models.ratelimit import RateCounter
from app.models.session import LoginSession
from app.models.task import AppSetting, Image, Task, Upload
from app.models.webhook import Webhook, WebhookDelivery

__all__ = ["AppSetting", "Base", "Image", "LoginSession", "RateCounter", "Task", "Upload", "Webhook", "WebhookDelivery"]
