"""Slot-filling dialog: flows (intent → slots → confirm → action → answer), the dialog
state stored on a conversation, the flow's tool action and its answer templates."""
