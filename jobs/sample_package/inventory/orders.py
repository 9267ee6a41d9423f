from collections.abc import Iterable
from decimal import Decimal


def order_total(lines: Iterable[tuple[int, Decimal]]) -> Decimal:
    return sum((quantity * price for quantity, price in lines), Decimal("0"))


def is_large_order(lines: Iterable[tuple[int, Decimal]], threshold: Decimal) -> bool:
    return order_total(lines) >= threshold
