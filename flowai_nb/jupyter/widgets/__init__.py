"""The flowai anywidgets (one module per widget)."""

from .approval_card import ApprovalCard
from .data_view import DataView
from .eval_view import EvalView, eval_view
from .plan_view import PlanView
from .run_view import RunView
from .trace_viewer import TraceTable, TraceViewer

__all__ = ["ApprovalCard", "DataView", "EvalView", "PlanView", "RunView", "TraceTable",
           "TraceViewer", "eval_view"]
