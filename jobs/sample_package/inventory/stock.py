from dataclasses import dataclass


@dataclass
class StockLevel:
    sku: str
    on_hand: int
    reserved: int = 0

    def available(self) -> int:
        return max(self.on_hand - self.reserved, 0)


def reserve(level: StockLevel, quantity: int) -> StockLevel:
    if quantity > level.available():
        raise ValueError(f"only {level.available()} of {level.sku} available")
    return StockLevel(level.sku, level.on_hand, level.reserved + quantity)
