// Runs before every test file: tests never read a developer's .env, and never reach the internet.
process.env.TIKITI_NO_DOTENV = '1';
