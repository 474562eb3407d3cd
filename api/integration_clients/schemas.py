from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field

from api.types import Id, ReadModel, StrictModel


class ClientCreate(StrictModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "ward-2 monitor gateway"}]})

    name: str = Field(min_length=1, max_length=200)


class ClientRead(ReadModel):
    id: Id
    name: str
    created_at: datetime
    revoked_at: datetime | None


class ClientCreated(ClientRead):
    api_key: str = Field(description="Shown once; store it now. Vigil keeps only a hash.")
