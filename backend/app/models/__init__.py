from app.models.base import Base
from app.models.task import AppSetting, Image, Task, Upload

__all__ = ["AppSetting", "Base", "Image", "Task", "Upload"]
