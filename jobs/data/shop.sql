-- A tiny shop for jobs/shop-report.yaml. Rebuild: rm -f shop.db && sqlite3 shop.db < shop.sql
PRAGMA foreign_keys = ON;

CREATE TABLE customers (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL,
    email   TEXT NOT NULL UNIQUE,
    city    TEXT NOT NULL,
    joined  TEXT NOT NULL  -- ISO 8601 date
);

CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    sku         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    category    TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents > 0),
    stock       INTEGER NOT NULL CHECK (stock >= 0)
);

CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    product_id  INTEGER NOT NULL REFERENCES products (id),
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    ordered_at  TEXT NOT NULL,  -- ISO 8601 date
    status      TEXT NOT NULL CHECK (status IN ('paid', 'shipped', 'refunded'))
);

INSERT INTO customers (id, name, email, city, joined) VALUES
    (1, 'Ada Lovelace', 'ada@example.com', 'London', '2024-01-15'),
    (2, 'Grace Hopper', 'grace@example.com', 'New York', '2024-02-03'),
    (3, 'Alan Turing', 'alan@example.com', 'Manchester', '2024-02-20'),
    (4, 'Katherine Johnson', 'katherine@example.com', 'Hampton', '2024-03-08'),
    (5, 'Edsger Dijkstra', 'edsger@example.com', 'Amsterdam', '2024-03-30'),
    (6, 'Barbara Liskov', 'barbara@example.com', 'Boston', '2024-04-12'),
    (7, 'Donald Knuth', 'don@example.com', 'Stanford', '2024-05-01'),
    (8, 'Margaret Hamilton', 'margaret@example.com', 'Boston', '2024-05-19'),
    (9, 'Tim Berners-Lee', 'tim@example.com', 'London', '2024-06-07'),
    (10, 'Radia Perlman', 'radia@example.com', 'Seattle', '2024-06-25');

INSERT INTO products (id, sku, name, category, price_cents, stock) VALUES
    (1, 'MUG-01', 'Lambda mug', 'kitchen', 1200, 40),
    (2, 'TEE-01', 'Hello World T-shirt', 'clothing', 2200, 25),
    (3, 'TEE-02', 'Segfault T-shirt', 'clothing', 2200, 0),
    (4, 'STK-01', 'Sticker pack', 'stationery', 500, 300),
    (5, 'NTB-01', 'Grid notebook', 'stationery', 900, 80),
    (6, 'KEY-01', 'Mechanical keyboard', 'hardware', 11900, 7),
    (7, 'MSE-01', 'Trackball mouse', 'hardware', 6400, 12),
    (8, 'HOD-01', 'Recursion hoodie', 'clothing', 4800, 9),
    (9, 'CAP-01', 'Null cap', 'clothing', 1800, 30),
    (10, 'LMP-01', 'Desk lamp', 'hardware', 3500, 15);

INSERT INTO orders (id, customer_id, product_id, quantity, ordered_at, status) VALUES
    (1, 1, 6, 1, '2024-07-02', 'shipped'),
    (2, 2, 1, 3, '2024-07-03', 'shipped'),
    (3, 3, 4, 10, '2024-07-05', 'shipped'),
    (4, 1, 2, 2, '2024-07-09', 'paid'),
    (5, 4, 7, 1, '2024-07-11', 'refunded'),
    (6, 5, 5, 4, '2024-07-14', 'shipped'),
    (7, 6, 8, 1, '2024-07-18', 'paid'),
    (8, 7, 6, 2, '2024-07-21', 'shipped'),
    (9, 8, 10, 1, '2024-07-25', 'paid'),
    (10, 9, 9, 2, '2024-07-28', 'shipped'),
    (11, 2, 6, 1, '2024-08-01', 'paid'),
    (12, 10, 4, 5, '2024-08-02', 'shipped');
