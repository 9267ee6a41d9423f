from decimal import ROUND_HALF_UP, Decimal


def apply_discount(price: Decimal, percent: int) -> Decimal:
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    discounted = price * (100 - percent) / 100
    return discounted.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def with_vat(price: Decimal, rate: Decimal = Decimal("0.20")) -> Decimal:
    return (price * (1 + rate)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
