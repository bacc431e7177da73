from app.models.base import Base
from app.models.session import LoginSession
from app.models.task import Image, Task, Upload

__all__ = ["Base", "Image", "LoginSession", "Task", "Upload"]
