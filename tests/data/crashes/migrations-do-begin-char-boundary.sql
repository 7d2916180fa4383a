DO $$ BEGIé; x; $$;
