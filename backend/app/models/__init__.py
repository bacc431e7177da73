from app.models.base import Base
from app.models.ratelimit import RateCounter
from app.models.session import LoginSession
from app.models.task import AppSetting, Image, Task, Upload

__all__ = ["AppSetting", "Base", "Image", "LoginSession", "RateCounter", "Task", "Upload"]
