from app.models.base import Base
from app.models.session import LoginSession
from app.models.task import AppSetting, Image, Task, Upload
from app.models.user import ApiToken, Role, UploadOwner, User

__all__ = ["ApiToken", "AppSetting", "Base", "Image", "LoginSession", "Role", "Task", "Upload", "UploadOwner", "User"]
