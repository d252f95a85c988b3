"""The model's own chat template as a prompt: the instruction and input as a user turn, then the
assistant's turn opened so the answer ("Yes." / "No.") follows directly."""

from __future__ import annotations

from ..core.errors import ModelError
from .layout import StatsSentence, sample_input


class ChatTemplate:
    """Renders through `tokenizer.apply_chat_template`; the messages are format strings from the
    style file ({instruction}, {input})."""

    # The chat template writes the model's special tokens (a BOS, if it wants one) into the text.
    add_special_tokens = False

    def __init__(self, tokenizer, messages: list[dict], messages_no_input: list[dict],
                 stats: StatsSentence | None = None, style: str = "chat"):
        if tokenizer is None:
            raise ModelError(f"prompt style {style!r} is rendered by the model's chat template: it needs a tokenizer")
        if not getattr(tokenizer, "chat_template", None):
            raise ModelError(f"tokenizer {getattr(tokenizer, 'name_or_path', '') or type(tokenizer).__name__} "
                             f"has no chat template; the {style!r} prompt style needs one (use --prompt alpaca)")
        self.tokenizer = tokenizer
        self.messages = messages
        self.messages_no_input = messages_no_input
        self.stats = stats

    def render(self, instruction: str, input: str | None = None) -> str:
        forms = self.messages if input else self.messages_no_input
        msgs = [{"role": m["role"], "content": m["content"].format(instruction=instruction, input=input or "")}
                for m in forms]
        return self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)

    def sample_input(self, sample) -> str:
        return sample_input(sample, self.stats)
