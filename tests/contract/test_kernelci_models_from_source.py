"""The ast reading of pydantic models that writes kernelci_models.json, on a small models file."""

from __future__ import annotations

import json

import pytest

from tests.contract import kernelci_check as kc
from tests.contract import kernelci_models_from_source as gen

SOURCE = '''
class StateValues(str, enum.Enum):
    RUNNING = "running"
    DONE = "done"

class ModelId(BaseModel):
    id: Optional[PyObjectId] = Field(None, alias="_id")

class Revision(BaseModel):
    tree: str = Field(description="git tree")
    tags: List[str] = Field(default=[])

class Node(ModelId):
    class_kind: ClassVar[str] = "node"
    kind: str = Field(default="node")
    path: List[str] = Field(description="names")
    state: StateValues = Field(default=StateValues.RUNNING.value)
    created: datetime = Field(default_factory=datetime.utcnow)
    url: Annotated[str, BeforeValidator(lambda v: v)] = Field(description="url")
    retry_counter: StrictInt = 0
    OBJECT_ID_FIELDS: ClassVar[list] = ["parent"]

class CheckoutData(BaseModel):
    kernel_revision: Optional[Revision] = Field(default=None)

class Checkout(Node):
    class_kind: ClassVar[str] = "checkout"
    kind: Literal["checkout"] = Field(default="checkout")
    data: CheckoutData = Field(default=None)
'''


def test_fields_types_nulls_defaults_and_kinds_are_read() -> None:
    read = gen.read([SOURCE])
    assert read["enums"] == {"StateValues": ["running", "done"]}
    node = read["models"]["Node"]
    assert node["bases"] == ["ModelId"] and node["kind"] == "node"
    assert node["fields"] == {
        "kind": {"type": "string", "nullable": False, "required": False},
        "path": {"type": "array<string>", "nullable": False, "required": True},
        "state": {"type": "enum:StateValues", "nullable": False, "required": False},
        "created": {"type": "timestamp", "nullable": False, "required": False},
        "url": {"type": "string", "nullable": False, "required": True},
        "retry_counter": {"type": "integer", "nullable": False, "required": False},
    }
    assert read["models"]["ModelId"]["fields"]["id"] == {
        "type": "objectid", "nullable": True, "required": False}
    checkout = read["models"]["Checkout"]["fields"]
    assert checkout["kind"]["type"] == "const:checkout"
    # a default of None is not validated by pydantic: the field can be null
    assert checkout["data"] == {"type": "model:CheckoutData", "nullable": True, "required": False}
    assert read["models"]["CheckoutData"]["fields"]["kernel_revision"]["type"] == "model:Revision"


def test_an_annotation_it_cannot_read_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="Tuple"):
        gen.read(["class Node(BaseModel):\n    pair: Tuple[int, int] = (0, 0)\n"])


def test_the_committed_contract_is_what_the_writer_writes() -> None:
    contract = kc.load()
    assert gen.dumps(contract) == kc.CONTRACT.read_text()
    assert json.loads(gen.dumps(contract)) == contract
