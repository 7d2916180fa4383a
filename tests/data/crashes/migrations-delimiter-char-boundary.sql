abcdefghié;
