"""Background jobs: long exports and bulk actions run by a queue worker, shown on /tugas.

The `job` table is the source of truth for the pages; the queue (Huey: a SQLite file by
default, Redis when BIMTEK_QUEUE_URL says so) only carries job ids.
"""
