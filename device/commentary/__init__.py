"""What knows cricket and the Benaud manner, and nothing else: standard library only, shared with the builder.

events    outcome classes, dismissal kinds, `Canonical`, `EventError`
delivery  reading a Cricsheet delivery (exact) or free text (best effort) into a `Canonical`
reader    the rule-based free-text reader behind `delivery.read_text`
render    the system prompt, the user message, the chat messages
manner    the Benaud checks on a reply
guard     the last check on the model's reply, and the plain lines it falls back on
match     the state of a match fed ball by ball, and the context it derives
"""
