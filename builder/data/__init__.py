"""The Benaud commentary dataset: simulated matches, rendered prompts, project-written replies.

simulator.py (ball-by-ball Cricsheet deliveries) -> styles.py (text renderings) and device.commentary
(structured rendering) -> replies.py (the reply bank) -> dataset.py (`suksham dataset`), report.py
(card, stats, contamination) and check.py (`suksham dataset --check FILE`).
"""
