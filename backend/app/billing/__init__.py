"""Money: what each model costs (prices), and the rules that keep spend under the caps (budget)."""
