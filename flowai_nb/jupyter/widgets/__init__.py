"""The flowai anywidgets (one module per widget)."""

from .approval_card import ApprovalCard
from .plan_view import PlanView
from .run_view import RunView
from .trace_viewer import TraceTable, TraceViewer

__all__ = ["ApprovalCard", "PlanView", "RunView", "TraceTable", "TraceViewer"]
