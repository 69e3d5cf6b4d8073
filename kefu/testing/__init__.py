"""Test doubles that ship with kefu, for testing the engine without a model server."""

from kefu.testing.scripted import ScriptedChatModel, ScriptedReply

__all__ = ["ScriptedChatModel", "ScriptedReply"]
